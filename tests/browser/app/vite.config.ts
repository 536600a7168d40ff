// `SIPP_ISOLATED=1 vite preview` serves the page cross-origin isolated (COOP/COEP, so
// SharedArrayBuffer and the pthread runtime are available); without it, plainly.
// `SIPP_MODELS_DIR` is served at /models/ (GGUF files, streamed), and /models-served
// answers how many times each was fetched: the tests' proof that a cached load made no
// request.
import { createReadStream, readdirSync, statSync } from "node:fs";
import type { ServerResponse } from "node:http";
import { join } from "node:path";
import { defineConfig, type Plugin } from "vite";

const isolated = process.env.SIPP_ISOLATED === "1";
const headers: Record<string, string> = isolated
  ? { "Cross-Origin-Opener-Policy": "same-origin", "Cross-Origin-Embedder-Policy": "require-corp" }
  : {};

function serveModels(): Plugin {
  const dir = process.env.SIPP_MODELS_DIR;
  const served: Record<string, number> = {};
  const handler = (req: { url?: string }, res: ServerResponse, next: () => void): void => {
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

export default defineConfig({
  plugins: [serveModels()],
  server: { headers },
  preview: { headers, host: "127.0.0.1", strictPort: true },
  build: { target: "es2022" },
});
