import * as tf from "@tensorflow/tfjs-core";
import "@tensorflow/tfjs-backend-cpu";
import "@tensorflow/tfjs-backend-wasm";
import { ConcordError } from "@concord/core";

export type BackendChoice = "auto" | "cpu" | "wasm";
export const BACKEND_CHOICES: readonly BackendChoice[] = ["auto", "cpu", "wasm"];

/**
 * Selects the tf backend for a run and returns the name actually used.
 * "auto" = wasm (SIMD, single thread) when it initialises, else cpu; "cpu" and "wasm" insist.
 */
export async function useBackend(choice: BackendChoice = "auto"): Promise<string> {
  if (!BACKEND_CHOICES.includes(choice)) {
    throw new ConcordError(`expected one of auto, cpu, wasm, got ${JSON.stringify(choice)}`, { field: "backend" });
  }
  if (choice === "auto") {
    if (await trySetBackend("wasm")) return "wasm";
    if (await trySetBackend("cpu")) return "cpu";
    throw new ConcordError("neither the wasm nor the cpu backend initialised", { field: "backend" });
  }
  if (!(await trySetBackend(choice))) throw new ConcordError(`the ${choice} backend failed to initialise`, { field: "backend" });
  return choice;
}

async function trySetBackend(name: string): Promise<boolean> {
  if (tf.getBackend() === name) return true;
  try {
    const ok = await tf.setBackend(name);
    await tf.ready();
    return ok && tf.getBackend() === name;
  } catch {
    return false;
  }
}
