import * as tf from "@tensorflow/tfjs-core";
import { expectNumber, type WeightingScheme } from "@concord/core";
import { expectUpdates } from "./updates.js";

export interface CosineAgreementOptions {
  /**
   * Relative fallback threshold (default 1e-12), as in `gradientAgreement` but on unit vectors:
   * the scheme falls back to uniform weights when D = Σ_k |s_k| ≤ eps · Σ_k ‖u_k‖² (the number of
   * non-zero updates), or D is not finite. Unit vectors of updates that cancel exactly, such as
   * (1, −2) and (−3, 6), sum to ~1e-16 rather than 0 in floating point, so the default treats D
   * within float64 round-off of 0 (D/N ~ √N · 1e-16) as 0; eps: 0 falls back only on an exactly
   * zero D.
   */
  readonly eps?: number;
}

/**
 * Cosine agreement: gradient agreement (Eshratifar, Eigen & Pedram, "Gradient Agreement as an
 * Optimization Objective for Meta-Learning", 2018) applied to unit vectors, so that every task
 * counts by the direction of its update only. With rows g_i of `updates`,
 *
 *     u_i = g_i / ‖g_i‖   (u_i = 0 when g_i = 0),   s_i = u_iᵀ Σ_j u_j = Σ_j cos(g_i, g_j),
 *     w_i = s_i / Σ_k |s_k|.
 *
 * Weights can be negative and satisfy Σ_i |w_i| = 1; scaling any single g_i by c > 0 changes
 * nothing. When the denominator is 0 (the unit vectors sum to zero, or every update is zero; 0 up
 * to round-off, see `eps`) or not finite, the weights are uniform and `fellBack` is true. Computed in O(N·P) in float64 on the
 * values read back: the square of any float32, from a subnormal to 3.4e38, is a normal float64,
 * so no row's norm overflows or underflows, however large or small. The weights are constants
 * for differentiation (a fresh tensor, outside any gradient tape).
 */
export function cosineAgreement(options: CosineAgreementOptions = {}): WeightingScheme {
  const eps = options.eps ?? 1e-12;
  expectNumber(eps, "eps", 0);
  return {
    name: "cosineAgreement",
    weights(input) {
      const tasks = expectUpdates(input, "cosineAgreement");
      const size = input.updates.shape[1]!;
      const values = input.updates.dataSync();
      const rows = Array.from({ length: tasks }, (_, i) => values.subarray(i * size, (i + 1) * size));

      const inverseNorms = rows.map((row) => {
        let squaredNorm = 0;
        for (let p = 0; p < row.length; p++) squaredNorm += row[p]! * row[p]!;
        return squaredNorm > 0 ? 1 / Math.sqrt(squaredNorm) : 0; // NaN (a non-finite entry) stays NaN
      });
      const total = new Float64Array(size); // Σ_j u_j
      rows.forEach((row, j) => {
        const scale = inverseNorms[j]!;
        if (scale !== 0) for (let p = 0; p < row.length; p++) total[p]! += row[p]! * scale;
      });
      const s = rows.map((row, i) => {
        let dot = 0;
        for (let p = 0; p < row.length; p++) dot += row[p]! * total[p]!;
        return dot * inverseNorms[i]!;
      });

      let denominator = 0;
      for (const value of s) denominator += Math.abs(value);
      const nonZeroRows = inverseNorms.filter((scale) => scale !== 0).length; // Σ_k ‖u_k‖²
      if (!Number.isFinite(denominator) || denominator === 0 || denominator <= eps * nonZeroRows) {
        return { weights: tf.fill([tasks], 1 / tasks, "float32") as tf.Tensor1D, fellBack: true };
      }
      return {
        weights: tf.tensor1d(
          s.map((value) => value / denominator),
          "float32",
        ),
        fellBack: false,
      };
    },
  };
}
