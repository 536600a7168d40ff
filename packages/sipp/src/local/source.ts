// Where a local model's bytes come from (spec: Browser Caching). A URL is fetched once
// and kept in the origin-private file system (OPFS): the next load reads the stored
// file and makes no request. The download streams into OPFS, so the page never holds a
// second whole copy; a File the user picked is used as it is. A download that did not
// finish is never used: the entry is written under a temporary name and only a complete
// file of the announced size is renamed into place.
import type { BrowserCacheOptions } from "../options.js";

export interface Resolved {
  bytes: Blob;
  /** Where the bytes came from, for the endpoint's info (and the tests). */
  origin: "file" | "cache" | "network" | "network-uncached";
}

export class SourceError extends Error {
  constructor(
    readonly code: "model_not_found" | "model_load",
    message: string,
  ) {
    super(message);
  }
}

const DIR = "sipp-models";

async function cacheName(url: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(url));
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("") + ".gguf";
}

async function opfsDir(): Promise<FileSystemDirectoryHandle | null> {
  try {
    if (!navigator.storage?.getDirectory) return null;
    const root = await navigator.storage.getDirectory();
    return await root.getDirectoryHandle(DIR, { create: true });
  } catch {
    // Private windows and some embedders refuse OPFS: the model is then fetched each time.
    return null;
  }
}

async function download(url: string, onProgress: ((loaded: number, total: number | null) => void) | undefined): Promise<Response> {
  let response: Response;
  try {
    response = await fetch(url, { credentials: "same-origin" });
  } catch (e) {
    throw new SourceError("model_not_found", `could not fetch the model from ${url}: ${e instanceof Error ? e.message : String(e)}`);
  }
  if (!response.ok || !response.body) {
    throw new SourceError(response.status === 404 ? "model_not_found" : "model_load", `fetching the model from ${url} answered HTTP ${response.status}`);
  }
  // Single-page-app hosts answer a missing file with their index.html and a 200.
  if ((response.headers.get("content-type") ?? "").startsWith("text/html")) {
    await response.body.cancel();
    throw new SourceError("model_not_found", `${url} answered an HTML page, not a model: is the file missing (an app's fallback page)?`);
  }
  const total = Number(response.headers.get("content-length")) || null;
  if (!onProgress) return response;
  let loaded = 0;
  const counted = response.body.pipeThrough(
    new TransformStream<Uint8Array, Uint8Array>({
      transform(chunk, controller) {
        loaded += chunk.byteLength;
        onProgress(loaded, total);
        controller.enqueue(chunk);
      },
    }),
  );
  return new Response(counted, { headers: response.headers });
}

export async function resolveSource(
  source: string | URL | Blob,
  cache: BrowserCacheOptions,
  onProgress?: (loaded: number, total: number | null) => void,
): Promise<Resolved> {
  if (typeof Blob !== "undefined" && source instanceof Blob) return { bytes: source, origin: "file" };
  const url = new URL(String(source), globalThis.location?.href).href;
  const dir = cache.enabled === false ? null : await opfsDir();
  if (!dir) {
    const response = await download(url, onProgress);
    return { bytes: await response.blob(), origin: "network-uncached" };
  }
  const name = await cacheName(url);
  try {
    const file = await (await dir.getFileHandle(name)).getFile();
    return { bytes: file, origin: "cache" };
  } catch {
    // Not cached yet.
  }
  const response = await download(url, onProgress);
  const expected = Number(response.headers.get("content-length")) || null;
  const partial = await dir.getFileHandle(`${name}.partial`, { create: true });
  const writable = await partial.createWritable();
  await response.body!.pipeTo(writable);
  const file = await partial.getFile();
  if (expected !== null && file.size !== expected) {
    await dir.removeEntry(`${name}.partial`).catch(() => {});
    throw new SourceError("model_load", `the model download from ${url} ended after ${file.size} of ${expected} bytes`);
  }
  const handle = partial as FileSystemFileHandle & { move?: (name: string) => Promise<void> };
  if (handle.move) {
    await handle.move(name);
    return { bytes: await (await dir.getFileHandle(name)).getFile(), origin: "network" };
  }
  // No rename here: copy once into place (only browsers without move() pay this).
  const final = await (await dir.getFileHandle(name, { create: true })).createWritable();
  await final.write(file);
  await final.close();
  await dir.removeEntry(`${name}.partial`).catch(() => {});
  return { bytes: await (await dir.getFileHandle(name)).getFile(), origin: "network" };
}

/** Remove every cached model (for an app's "clear storage" control). */
export async function clearModelCache(): Promise<void> {
  const root = await navigator.storage.getDirectory();
  await root.removeEntry(DIR, { recursive: true }).catch(() => {});
}
