// Emscripten's per-thread worker script of the pthread runtime (sipp-wasm-pthread.worker.js),
// as a string: scripts/build.mjs writes the module from the built file.
declare const source: string;
export default source;
