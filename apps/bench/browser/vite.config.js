// Cross-origin isolated, so wllama can use its multi-threaded path; /models/ from
// SIPP_MODELS_DIR (the test page's server).
import { defineConfig } from "vite";
import { serveModels } from "../../../tests/browser/serve-models.mjs";

const headers = { "Cross-Origin-Opener-Policy": "same-origin", "Cross-Origin-Embedder-Policy": "require-corp" };
export default defineConfig({
  plugins: [serveModels()],
  preview: { headers, host: "127.0.0.1", strictPort: true },
  build: { target: "es2022" },
});
