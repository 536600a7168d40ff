// The package as a page gets it: imported by name, bundled by Vite. The tests call it
// through `window.sipp` (page.evaluate), and read `window.crossOriginIsolated` to know
// which of the two servings (with and without COOP/COEP) they are on.
import * as sipp from "@sipp/sipp";

declare global {
  interface Window {
    sipp: typeof sipp;
  }
}

window.sipp = sipp;
document.getElementById("status")!.textContent = `ready isolated=${String(window.crossOriginIsolated)}`;
