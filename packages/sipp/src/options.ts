// SippClientOptions (spec: Runtime Options, Browser Client Options): how the browser
// runtime is loaded — worker or main thread, pthread or single-thread WASM, asset URLs —
// and OPFS storage. They select no model. Checked when the client is made, so a typo
// fails at once instead of on the first local load.
import { InvalidConfigError } from "./generated/errors.js";

export type ExecutionMode = "auto" | "worker" | "main-thread";
export type WasmThreading = "single-thread" | "pthread";

export interface BrowserCacheOptions {
  /** Keep fetched models in the origin-private file system (default true where it exists). */
  enabled?: boolean;
  /** Models at least this large are stored in parts of this many bytes (default 512 MiB). */
  splitThresholdBytes?: number;
  /** Read a cached model from OPFS straight into the runtime, without a second copy (default true). */
  directLoad?: boolean;
}

export interface SippClientOptions {
  /** `auto` (default) runs local inference in a worker where workers exist. */
  executionMode?: ExecutionMode;
  /** Default: `pthread` when the page is cross-origin isolated, else `single-thread`. */
  wasmThreading?: WasmThreading;
  moduleUrl?: string;
  wasmUrl?: string;
  pthreadModuleUrl?: string;
  pthreadWasmUrl?: string;
  workerUrl?: string;
  /** Origins besides the page's own that runtime assets may come from. */
  trustedOrigins?: readonly string[];
  browserCache?: BrowserCacheOptions;
  /** The fetch gateway endpoints use (default: the page's). */
  fetch?: typeof fetch;
}

const KEYS = [
  "executionMode",
  "wasmThreading",
  "moduleUrl",
  "wasmUrl",
  "pthreadModuleUrl",
  "pthreadWasmUrl",
  "workerUrl",
  "trustedOrigins",
  "browserCache",
  "fetch",
];
const CACHE_KEYS = ["enabled", "splitThresholdBytes", "directLoad"];

function config(message: string): InvalidConfigError {
  return new InvalidConfigError(message, "invalid_config");
}

function oneOf(value: unknown, allowed: readonly string[], what: string): void {
  if (value !== undefined && !allowed.includes(value as string)) {
    throw config(`${what} must be ${allowed.map((a) => `'${a}'`).join(", ")}, not ${JSON.stringify(value)}`);
  }
}

function pair(o: SippClientOptions, a: keyof SippClientOptions, b: keyof SippClientOptions): void {
  if ((o[a] === undefined) !== (o[b] === undefined)) throw config(`set ${a} and ${b} together (the runtime's JavaScript and its WASM)`);
}

export function checkedOptions(options: SippClientOptions | undefined): Readonly<SippClientOptions> {
  const o = options ?? {};
  if (typeof o !== "object" || o === null || Array.isArray(o)) throw config("SippClient options must be an object");
  for (const key of Object.keys(o)) {
    if (!KEYS.includes(key)) throw config(`SippClient has no option \`${key}\` (options: ${KEYS.join(", ")})`);
  }
  oneOf(o.executionMode, ["auto", "worker", "main-thread"], "executionMode");
  oneOf(o.wasmThreading, ["single-thread", "pthread"], "wasmThreading");
  pair(o, "moduleUrl", "wasmUrl");
  pair(o, "pthreadModuleUrl", "pthreadWasmUrl");
  if (o.fetch !== undefined && typeof o.fetch !== "function") throw config("fetch must be a function");
  if (o.trustedOrigins !== undefined && !(Array.isArray(o.trustedOrigins) && o.trustedOrigins.every((t) => typeof t === "string"))) {
    throw config("trustedOrigins must be a list of origins");
  }
  const c = o.browserCache;
  if (c !== undefined) {
    if (typeof c !== "object" || c === null) throw config("browserCache must be an object");
    for (const key of Object.keys(c)) if (!CACHE_KEYS.includes(key)) throw config(`browserCache has no field \`${key}\``);
    if (c.splitThresholdBytes !== undefined && !(Number.isInteger(c.splitThresholdBytes) && c.splitThresholdBytes > 0)) {
      throw config("browserCache.splitThresholdBytes must be a positive whole number");
    }
  }
  return Object.freeze({ ...o });
}
