// The native module (`bindings/node`, napi-rs), loaded on first use from the platform
// package npm installed beside this one (`optionalDependencies`, one per OS/CPU/libc),
// as napi-rs packages do. SIPP_NODE_BACKEND=cpu|vulkan|cuda|metal picks the backend
// build; by default macOS tries metal then cpu, Linux and Windows cuda, vulkan, then cpu.
import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";

/** A JSON document the native side converts by the one schema. */
type Doc = unknown;

export interface NativeEndpointRef {
  kind: string;
  id: string;
}
export interface NativeTokenBatch {
  text: string;
  tokenIds: number[];
  sequence: number;
}
export interface NativeTextRun {
  nextBatch(): Promise<NativeTokenBatch | null>;
  finish(): Promise<Doc>;
  cancel(reason: string): void;
}
export interface NativeEmbeddingRun {
  response(): Promise<Doc>;
  cancel(reason: string): void;
}
export interface NativeClient {
  add(id: string, descriptor: Doc, valueProvider?: () => string | Promise<string>): Promise<NativeEndpointRef>;
  text(request: Doc): NativeTextRun;
  embed(request: Doc): NativeEmbeddingRun;
  endpoints(): NativeEndpointRef[];
  remove(endpoint: NativeEndpointRef): Promise<boolean>;
  endpointStats(endpoint: NativeEndpointRef): Doc;
  endpointInfo(endpoint: NativeEndpointRef): Doc;
  close(): Promise<void>;
}
export interface NativeModule {
  NativeClient: new () => NativeClient;
  compiledBackends(): string[];
  defaultModel(): Promise<string>;
  nativeVersion(): string;
  closeAll(): void;
  gatewayDecode(operation: string, body: string): { target: string; stream: boolean; request: Doc };
  gatewayEncodeText(target: string, response: Doc): Doc;
  gatewayEncodeEmbedding(target: string, response: Doc): Doc;
  gatewaySseToken(text: string, sequence: number): string;
  gatewaySseFinish(response: Doc): string;
  gatewayError(
    code: string,
    message: string,
  ): { status: number; body: Doc; sseFrame: string; retryAfter?: number | null };
}

const BACKENDS = ["cpu", "vulkan", "cuda", "metal"] as const;
export type NativeBackend = (typeof BACKENDS)[number];

function isMusl(): boolean {
  if (process.platform !== "linux") return false;
  const report = process.report?.getReport() as { header?: { glibcVersionRuntime?: string } } | undefined;
  return !report?.header?.glibcVersionRuntime;
}

/** The platform package's suffix for this process (`linux-x64-gnu`, `darwin-arm64`, …). */
export function platformTriple(): string {
  const { platform, arch } = process;
  if (platform === "linux") return `linux-${arch}-${isMusl() ? "musl" : "gnu"}`;
  if (platform === "win32") return `win32-${arch}-msvc`;
  return `${platform}-${arch}`;
}

function backendOrder(): NativeBackend[] {
  const wanted = process.env.SIPP_NODE_BACKEND?.trim().toLowerCase();
  if (wanted) {
    if (!(BACKENDS as readonly string[]).includes(wanted)) {
      throw new Error(`SIPP_NODE_BACKEND=${wanted} is not one of ${BACKENDS.join(", ")}`);
    }
    return [wanted as NativeBackend];
  }
  return process.platform === "darwin" ? ["metal", "cpu"] : ["cuda", "vulkan", "cpu"];
}

function platformPackageDir(name: string): string | undefined {
  try {
    return dirname(require.resolve(`${name}/package.json`));
  } catch {
    return undefined;
  }
}

let loaded: { module: NativeModule; backend: NativeBackend; file: string } | undefined;

function load(): NonNullable<typeof loaded> {
  const triple = platformTriple();
  const name = `@sipp/sipp-server-${triple}`;
  const dir = platformPackageDir(name);
  if (dir === undefined) {
    throw new Error(
      `@sipp/sipp-server has no native module for this platform (${triple}): the package ${name} is not installed. ` +
        "npm installs it as an optional dependency; reinstall without --omit=optional / --no-optional, " +
        "or this platform is not built yet.",
    );
  }
  const order = backendOrder();
  const packaged = BACKENDS.filter((b) => existsSync(join(dir, `sipp-server.${b}.node`)));
  const failures: string[] = [];
  for (const backend of order) {
    const file = join(dir, `sipp-server.${backend}.node`);
    if (!packaged.includes(backend)) continue;
    try {
      const module = require(file) as NativeModule;
      const version = (JSON.parse(readFileSync(join(dir, "package.json"), "utf8")) as { version: string }).version;
      if (module.nativeVersion() !== version) {
        failures.push(`${file}: native ${module.nativeVersion()}, package ${version}`);
        continue;
      }
      // Before exit() runs static destructors, stop the engines (see closeAll in
      // bindings/node/src/lib.rs); also on `process.exit()`, which skips env cleanup.
      process.once("exit", () => module.closeAll());
      return { module, backend, file };
    } catch (e) {
      failures.push(`${file}: ${(e as Error).message}`);
    }
  }
  const asked = process.env.SIPP_NODE_BACKEND ? `SIPP_NODE_BACKEND=${order[0]}` : `tried ${order.join(", ")}`;
  throw new Error(
    `@sipp/sipp-server could not load a native module from ${name} (${asked}; packaged: ${packaged.join(", ") || "none"})` +
      (failures.length ? `: ${failures.join("; ")}` : ""),
  );
}

/** The native module, loaded once. */
export function native(): NativeModule {
  loaded ??= load();
  return loaded.module;
}

/** Which backend build was loaded, and from where. */
export function nativeBackend(): { backend: NativeBackend; file: string } {
  loaded ??= load();
  return { backend: loaded.backend, file: loaded.file };
}
