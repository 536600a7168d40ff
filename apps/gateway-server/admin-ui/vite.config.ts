// The dashboard is served under `[routes] admin`, which an operator may change: every
// asset and API path is relative (`./assets/…`, `api/…`), and the gateway redirects
// `<admin>` to `<admin>/` so they resolve under it.
import { defineConfig } from "vite";

export default defineConfig({
  base: "./",
  build: {
    outDir: "dist",
    emptyOutDir: true,
    // No inline scripts or styles: the gateway's CSP allows only files from itself.
    assetsInlineLimit: 0,
    modulePreload: { polyfill: false },
    sourcemap: false,
  },
});
