// Browser-local endpoints (`kind: 'local'`): the descriptor's checks and the backend
// rules (spec: Runtime Options — browser backend is auto, cpu or webgpu). This build
// ships no WebAssembly runtime yet (issue 22 tracks it), so a local endpoint is refused
// with BackendUnavailableError after its descriptor has been checked: never a silent
// fallback, and never a load that hangs.
import { BackendUnavailableError, InvalidConfigError } from "./generated/errors.js";
import type { LocalEndpointDescriptor } from "./descriptors.js";
import type { SippClientOptions } from "./options.js";

const DESCRIPTOR_KEYS = ["kind", "source", "options"];
const OPTION_KEYS = ["backend", "runtime", "onProgress"];

function config(message: string): InvalidConfigError {
  return new InvalidConfigError(message, "invalid_config");
}

/** What a local descriptor asks for, checked. */
export function checkLocal(d: LocalEndpointDescriptor): { backend: "auto" | "cpu" | "webgpu" } {
  for (const key of Object.keys(d)) {
    if (!DESCRIPTOR_KEYS.includes(key)) {
      const hint = key === "modelPath" ? " (browser endpoints take `source`: a URL or a File; modelPath is Node's)" : "";
      throw config(`a local descriptor has no field \`${key}\`${hint}`);
    }
  }
  const source: unknown = d.source;
  const isBlob = typeof Blob !== "undefined" && source instanceof Blob;
  if (!(typeof source === "string" && source !== "") && !(source instanceof URL) && !isBlob) {
    throw config("a local endpoint needs `source`: the model's URL, or a File the user picked");
  }
  const o = d.options ?? {};
  if (typeof o !== "object" || o === null) throw config("local options must be an object");
  for (const key of Object.keys(o)) if (!OPTION_KEYS.includes(key)) throw config(`local options have no field \`${key}\``);
  const backend = o.backend ?? "auto";
  if (!["auto", "cpu", "webgpu"].includes(backend)) {
    throw config(`options.backend must be 'auto', 'cpu' or 'webgpu' in the browser, not ${JSON.stringify(backend)}`);
  }
  if (o.onProgress !== undefined && typeof o.onProgress !== "function") throw config("options.onProgress must be a function");
  return { backend };
}

/** Load a local endpoint; in this build, the typed refusal. */
export function refuseLocal(id: string, d: LocalEndpointDescriptor, _client: Readonly<SippClientOptions>): never {
  const { backend } = checkLocal(d);
  if (backend === "webgpu") {
    throw new BackendUnavailableError(
      `endpoint \`${id}\`: backend 'webgpu' was asked for, but this build of @sipp/sipp has no WebGPU backend; ` +
        "nothing ran on the CPU instead. Leave backend unset ('auto') or use 'cpu' when a CPU run is acceptable.",
      "backend_unavailable",
    );
  }
  throw new BackendUnavailableError(
    `endpoint \`${id}\`: browser-local inference needs the WebAssembly runtime, which this build of @sipp/sipp ` +
      "does not include; use a gateway endpoint (kind: 'gateway') for now",
    "backend_unavailable",
  );
}
