import * as tf from "@tensorflow/tfjs-core";
import { expectNumber, type WeightingScheme } from "@concord/core";
import { expectUpdates } from "./updates.js";

export interface CosineAgreementOptions {
  /**
   * Relative fallback threshold (default 0), as in `gradientAgreement` but on unit vectors: the
   * scheme falls back to uniform weights when D = Σ_k |s_k| ≤ eps · Σ_k ‖u_k‖² (the number of
   * non-zero updates), or D is 0 or not finite. eps around 1e-6 also catches batches whose unit
   * vectors cancel only up to float32 round-off.
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
 * nothing. When the denominator is 0 (the unit vectors sum to zero, or every update is zero) or
 * not finite, the weights are uniform and `fellBack` is true. Each row is first rescaled by a power
 * of two (exact in float32) that brings its largest |entry| near 1, so rows as large as 1e38 or as
 * small as subnormals neither overflow nor underflow. The weights are constants for
 * differentiation (computed from values read back, returned as a fresh tensor).
 */
export function cosineAgreement(options: CosineAgreementOptions = {}): WeightingScheme {
  const eps = options.eps ?? 0;
  expectNumber(eps, "eps", 0);
  return {
    name: "cosineAgreement",
    weights(input) {
      const tasks = expectUpdates(input, "cosineAgreement");
      const uniformFallback = () => ({ weights: tf.fill([tasks], 1 / tasks, "float32") as tf.Tensor1D, fellBack: true });
      const largest = readValues(tf.tidy(() => tf.max(tf.abs(input.updates), 1)));
      if (!largest.every(Number.isFinite)) return uniformFallback();
      const rowScales = new Float32Array(largest.map(powerOfTwoScale));
      const agreement = tf.tidy(() => {
        const scaled = tf.mul(input.updates, tf.tensor2d(rowScales, [tasks, 1]));
        const norms = tf.sqrt(tf.sum(tf.square(scaled), 1, true));
        // A non-zero scaled row has norm ≥ 2^-22, so the floor only turns 0/0 into 0 for zero rows.
        const units = tf.div(scaled, tf.maximum(norms, 1e-30));
        const total = tf.sum(units, 0, true); // [1, P]: Σ_j u_j
        return tf.matMul(units, total, false, true); // [N, 1]: s_i = u_iᵀ Σ_j u_j
      });
      const s = readValues(agreement);
      let denominator = 0;
      for (const value of s) denominator += Math.abs(value);
      const nonZeroRows = largest.filter((value) => value > 0).length; // Σ_k ‖u_k‖²
      if (!Number.isFinite(denominator) || denominator === 0 || denominator <= eps * nonZeroRows) return uniformFallback();
      return { weights: tf.tensor1d(s.map((value) => value / denominator), "float32"), fellBack: false };
    },
  };
}

/**
 * 2^e with e = −⌊log₂ m⌋ clamped to float32's normal exponents [−126, 127], so m · 2^e lies in
 * [1, 2) (or, for a subnormal m, at least 2^-22). 1 for a zero row.
 */
function powerOfTwoScale(largest: number): number {
  if (largest === 0) return 1;
  return 2 ** Math.min(127, Math.max(-126, -Math.floor(Math.log2(largest))));
}

/** Reads a tensor's values as numbers and disposes it. */
function readValues(tensor: tf.Tensor): number[] {
  const values = Array.from(tensor.dataSync());
  tensor.dispose();
  return values;
}
