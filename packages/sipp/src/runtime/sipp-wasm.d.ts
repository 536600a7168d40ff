// The Emscripten module `cargo xtask build web` compiles from runtime/sipp_wasm.cpp
// (llama.cpp + ggml, CPU with SIMD128), and its pthread twin sipp-wasm-pthread.js. Only what
// src/local/engine.ts uses is declared.
export interface SippWasmModule {
  FS: {
    mkdir(path: string): void;
    mount(type: unknown, options: unknown, mountpoint: string): void;
    unmount(mountpoint: string): void;
    writeFile(path: string, data: Uint8Array): void;
    unlink(path: string): void;
    filesystems: { WORKERFS: unknown; MEMFS: unknown };
  };
  HEAPU8: Uint8Array;
  HEAPF32: Float32Array;
  ccall(name: string, ret: "number" | "string" | null, args: string[], values: unknown[]): number;
  UTF8ToString(ptr: number): string;
  _malloc(n: number): number;
  _free(ptr: number): void;
  _sipp_init(): void;
  _sipp_last_error(): number;
  _sipp_free(session: number): void;
  _sipp_n_ctx(session: number): number;
  _sipp_n_embd(session: number): number;
  _sipp_chat_template(session: number): number;
  _sipp_next(session: number): number;
  _sipp_piece(session: number): number;
}

export interface SippWasmOptions {
  locateFile?: (path: string, prefix: string) => string;
  /** The pthread runtime: where each thread's worker imports the runtime from. */
  mainScriptUrlOrBlob?: string;
  print?: (text: string) => void;
  printErr?: (text: string) => void;
}

declare const createSippWasm: (options?: SippWasmOptions) => Promise<SippWasmModule>;
export default createSippWasm;
