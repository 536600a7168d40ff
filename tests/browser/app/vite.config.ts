// `SIPP_ISOLATED=1 vite preview` serves the page cross-origin isolated (COOP/COEP, so
// SharedArrayBuffer and the pthread runtime are available); without it, plainly.
// `SIPP_MODELS_DIR` is served at /models/ (../serve-models.mjs).
import { defineConfig } from "vite";
import { serveModels } from "../serve-models.mjs";

const isolated = process.env.SIPP_ISOLATED === "1";
const headers: Record<string, string> = isolated
  ? { "Cross-Origin-Opener-Policy": "same-origin", "Cross-Origin-Embedder-Policy": "require-corp" }
  : {};

export default defineConfig({
  plugins: [serveModels()],
  server: { headers },
  preview: { headers, host: "127.0.0.1", strictPort: true },
  build: { target: "es2022" },
});
