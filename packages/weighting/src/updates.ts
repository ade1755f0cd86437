import * as tf from "@tensorflow/tfjs-core";
import { ConcordError, type WeightingInput } from "@concord/core";

/**
 * Checks the `updates` matrix a scheme receives: a float32 rank-2 tensor [N, P] with N ≥ 1.
 * Returns N (the number of tasks).
 */
export function expectUpdates(input: WeightingInput, schemeName: string): number {
  const updates: unknown = input?.updates;
  if (!(updates instanceof tf.Tensor) || updates.rank !== 2) {
    const got = updates instanceof tf.Tensor ? `a tensor of shape [${updates.shape}]` : typeof updates;
    throw new ConcordError(`weighting scheme '${schemeName}' expected a [N, P] matrix of task updates, got ${got}`, {
      field: "updates",
    });
  }
  const tasks = updates.shape[0]!;
  if (tasks < 1) {
    throw new ConcordError(`weighting scheme '${schemeName}' expected at least one task, got shape [${updates.shape}]`, {
      field: "updates",
    });
  }
  return tasks;
}
