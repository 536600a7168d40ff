// The spec's React + Vite setup: COOP/COEP on dev and preview, so the page is cross-origin
// isolated and the pthread WASM runtime can run. `SIPP_MODEL=/path/model.gguf` serves that
// file at /models/model.gguf (the local panel's source) without copying it into the app.
import react from "@vitejs/plugin-react";
import { createReadStream, statSync } from "node:fs";
import { defineConfig, type Plugin } from "vite";

const isolation = {
  "Cross-Origin-Opener-Policy": "same-origin",
  "Cross-Origin-Embedder-Policy": "require-corp",
};

function serveModel(): Plugin {
  const file = process.env.SIPP_MODEL;
  const handler = (req: { url?: string }, res: import("node:http").ServerResponse, next: () => void): void => {
    if (!file || req.url?.split("?")[0] !== "/models/model.gguf") return next();
    res.setHeader("content-type", "application/octet-stream");
    res.setHeader("content-length", String(statSync(file).size));
    res.setHeader("cross-origin-resource-policy", "same-origin");
    createReadStream(file).pipe(res);
  };
  return {
    name: "sipp-serve-model",
    configureServer: (server) => void server.middlewares.use(handler),
    configurePreviewServer: (server) => void server.middlewares.use(handler),
  };
}

export default defineConfig({
  plugins: [react(), serveModel()],
  // Served from the package as it is, so its worker and .wasm resolve next to it.
  optimizeDeps: { exclude: ["@sipp/sipp"] },
  server: { headers: isolation },
  preview: { headers: isolation },
});
