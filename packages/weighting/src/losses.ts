import * as tf from "@tensorflow/tfjs-core";
import { ConcordError, type WeightingInput } from "@concord/core";

/**
 * Reads the per-task query losses L_i that a loss-based scheme weights by: a Tensor1D of length
 * `tasks` (one per row of `updates`) with finite values. Returns them as float64 numbers.
 * Throws a ConcordError naming `losses` otherwise: a NaN or infinite loss means a task diverged,
 * and ranking or exponentiating it would silently give that task all (or no) weight.
 */
export function readLosses(input: WeightingInput, tasks: number, schemeName: string): number[] {
  const losses: unknown = input.losses;
  if (!(losses instanceof tf.Tensor) || losses.rank !== 1 || losses.shape[0] !== tasks) {
    const got = losses instanceof tf.Tensor ? `a tensor of shape [${losses.shape}]` : typeof losses;
    throw new ConcordError(`weighting scheme '${schemeName}' expected a Tensor1D of ${tasks} query losses (one per task), got ${got}`, {
      field: "losses",
    });
  }
  const values = Array.from(losses.dataSync());
  const bad = values.findIndex((value) => !Number.isFinite(value));
  if (bad >= 0) {
    throw new ConcordError(
      `weighting scheme '${schemeName}' needs finite query losses, got L_${bad} = ${values[bad]} (did task ${bad} diverge? lower the inner learning rate)`,
      { field: "losses" },
    );
  }
  return values;
}
