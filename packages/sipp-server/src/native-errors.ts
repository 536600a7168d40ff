// Native errors as typed ones: the napi module throws an Error whose message is a JSON
// document after a prefix (bindings/node/src/errors.rs); these wrappers rethrow it as the
// class of its code (errors.ts).
import { classFor, ExecutionError, type SippErrorDetails } from "./errors";

// What the native module puts before an error's JSON document (bindings/node/src/errors.rs).
const PREFIX = "sipp-error:";

/** A native error as its class; anything else unchanged. */
export function fromNative(error: unknown): unknown {
  if (!(error instanceof Error) || !error.message.startsWith(PREFIX)) return error;
  try {
    const d = JSON.parse(error.message.slice(PREFIX.length)) as SippErrorDetails & { code: string; message: string };
    const Class = classFor(d.code);
    return new Class(d.message, d.code, d);
  } catch {
    return new ExecutionError(error.message, "execution");
  }
}

/** Run a native call, throwing typed errors. */
export function call<T>(f: () => T): T {
  try {
    return f();
  } catch (e) {
    throw fromNative(e);
  }
}

/** Await a native promise, rejecting with typed errors. */
export async function settle<T>(p: Promise<T>): Promise<T> {
  try {
    return await p;
  } catch (e) {
    throw fromNative(e);
  }
}
