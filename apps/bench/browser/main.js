// Both contenders as a page gets them, bundled by Vite; bench_browser.py drives them.
import * as sipp from "@sipp/sipp";
import { Wllama } from "@wllama/wllama";
import wllamaWasm from "@wllama/wllama/esm/wasm/wllama.wasm?url";

window.bench = { sipp, Wllama, wllamaWasm };
