// `SIPP_ISOLATED=1 vite preview` serves the page cross-origin isolated (COOP/COEP, so
// SharedArrayBuffer and the pthread runtime are available); without it, plainly.
import { defineConfig } from "vite";

const isolated = process.env.SIPP_ISOLATED === "1";
const headers: Record<string, string> = isolated
  ? { "Cross-Origin-Opener-Policy": "same-origin", "Cross-Origin-Embedder-Policy": "require-corp" }
  : {};

export default defineConfig({
  server: { headers },
  preview: { headers, host: "127.0.0.1", strictPort: true },
  build: { target: "es2022" },
});
