// Serves SIPP_MODELS_DIR at /models/ (GGUF files, streamed; anything else there is a
// 404), and /models-served: how many times each was fetched, the tests' proof that a
// cached load made no request. Shared by the test page and the browser benchmark.
import { createReadStream, readdirSync, statSync } from "node:fs";
import { join } from "node:path";

/** @returns {import("vite").Plugin} */
export function serveModels() {
  const dir = process.env.SIPP_MODELS_DIR;
  /** @type {Record<string, number>} */
  const served = {};
  /** @type {(req: { url?: string }, res: import('node:http').ServerResponse, next: () => void) => void} */
  const handler = (req, res, next) => {
    const path = req.url?.split("?")[0] ?? "";
    if (path === "/models-served") {
      res.setHeader("content-type", "application/json");
      res.end(JSON.stringify(served));
      return;
    }
    if (!path.startsWith("/models/")) return next();
    const name = decodeURIComponent(path.slice("/models/".length));
    if (!dir || !name || name.includes("/") || !readdirSync(dir).includes(name)) {
      res.statusCode = 404;
      res.end("no such model");
      return;
    }
    served[name] = (served[name] ?? 0) + 1;
    const file = join(dir, name);
    res.setHeader("content-type", "application/octet-stream");
    res.setHeader("content-length", String(statSync(file).size));
    createReadStream(file).pipe(res);
  };
  return {
    name: "sipp-test-models",
    configureServer: (server) => void server.middlewares.use(handler),
    configurePreviewServer: (server) => void server.middlewares.use(handler),
  };
}
