import * as tf from "@tensorflow/tfjs-core";
import { ConcordError } from "./errors.js";
import type { WeightingResult } from "./types.js";

/**
 * Validates what a weighting scheme returned for `tasks` tasks: a float32 Tensor1D of shape
 * [tasks] with finite values, and `fellBack` boolean or absent. Returns the weights as numbers.
 * Throws a ConcordError naming the scheme and what was expected.
 */
export function checkWeights(result: WeightingResult, tasks: number, schemeName: string): number[] {
  const prefix = `weighting scheme '${schemeName}'`;
  const weights: unknown = (result as Partial<WeightingResult> | undefined)?.weights;
  if (!(weights instanceof tf.Tensor)) {
    const got = result === null || typeof result !== "object" ? String(result) : `{ weights: ${describe(weights)} }`;
    throw new ConcordError(`${prefix} returned ${got}; expected { weights: Tensor1D of shape [${tasks}] }`);
  }
  if (weights.isDisposed) throw new ConcordError(`${prefix} returned a disposed weights tensor`);
  if (weights.rank !== 1 || weights.shape[0] !== tasks) {
    throw new ConcordError(`${prefix} returned shape [${weights.shape}]; expected [${tasks}]`);
  }
  if (weights.dtype !== "float32") {
    throw new ConcordError(`${prefix} returned dtype ${weights.dtype}; expected float32`);
  }
  const fellBack: unknown = result.fellBack;
  if (fellBack !== undefined && typeof fellBack !== "boolean") {
    throw new ConcordError(`${prefix} returned fellBack = ${JSON.stringify(fellBack)}; expected a boolean or undefined`);
  }
  const values = Array.from(weights.dataSync());
  const bad = values.findIndex((value) => !Number.isFinite(value));
  if (bad >= 0) throw new ConcordError(`${prefix} returned weight ${bad} = ${values[bad]}; expected finite values`);
  return values;
}

function describe(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  return typeof value;
}
