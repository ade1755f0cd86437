import * as tf from "@tensorflow/tfjs-core";
import { expectNumber, type WeightingScheme } from "@concord/core";
import { expectUpdates } from "./updates.js";

export interface GradientAgreementOptions {
  /**
   * Relative fallback threshold (default 0). The scheme uses uniform weights, and reports
   * `fellBack: true`, when the denominator D = Σ_k |Σ_j g_kᵀ g_j| satisfies D ≤ eps · Σ_k ‖g_k‖²
   * (or D is 0 or not finite). Both sides scale as c² when every g_i is scaled by c, so the
   * threshold keeps the scheme's scale invariance. D ≥ ‖Σ_j g_j‖², and D = 0 exactly when the
   * updates sum to zero; the ratio D / Σ_k ‖g_k‖² is 1 for orthogonal updates of equal length and
   * N for identical ones, so eps around 1e-6 catches batches that cancel up to float32 round-off.
   */
  readonly eps?: number;
}

/**
 * Gradient agreement (Eshratifar et al., 2018): with rows g_i of `updates`,
 *
 *     w_i = Σ_j g_iᵀ g_j / Σ_k |Σ_j g_kᵀ g_j|
 *
 * computed in O(N·P) as s = G · (Σ_j g_j), w = s / Σ_k |s_k| (G first rescaled
 * by a power of two near 1 / max |G|). Weights can be negative and satisfy
 * Σ_i |w_i| = 1. They are constants for differentiation: s is read back and the weights are a
 * fresh tensor, outside any gradient tape.
 */
export function gradientAgreement(options: GradientAgreementOptions = {}): WeightingScheme {
  const eps = options.eps ?? 0;
  expectNumber(eps, "eps", 0);
  return {
    name: "gradientAgreement",
    weights(input) {
      const tasks = expectUpdates(input, "gradientAgreement");
      const uniformFallback = () => ({ weights: tf.fill([tasks], 1 / tasks, "float32") as tf.Tensor1D, fellBack: true });
      const largest = readScalar(tf.tidy(() => tf.max(tf.abs(input.updates))));
      if (!(largest > 0 && Number.isFinite(largest))) return uniformFallback();
      // The weights are scale-invariant, so rescale G by a power of two (exact in float32) to bring
      // max |g| into [1, 2): the products below can then neither overflow nor underflow.
      const scale = 2 ** Math.min(126, Math.max(-126, -Math.floor(Math.log2(largest))));
      const { agreement, squaredNorm } = tf.tidy(() => {
        const updates = tf.mul(input.updates, scale);
        const total = tf.sum(updates, 0, true); // [1, P]: Σ_j g_j
        return {
          agreement: tf.matMul(updates, total, false, true), // [N, 1]: s_i = g_iᵀ Σ_j g_j
          squaredNorm: eps > 0 ? tf.sum(tf.square(updates)) : undefined,
        };
      });
      const s = agreement.dataSync();
      agreement.dispose();
      const normSum = squaredNorm ? readScalar(squaredNorm) : 0;

      let denominator = 0;
      for (const value of s) denominator += Math.abs(value);
      if (!Number.isFinite(denominator) || denominator === 0 || denominator <= eps * normSum) {
        return uniformFallback();
      }
      const weights = new Float32Array(tasks);
      for (let i = 0; i < tasks; i++) weights[i] = s[i]! / denominator;
      return { weights: tf.tensor1d(weights, "float32"), fellBack: false };
    },
  };
}

/** Reads a scalar tensor's value and disposes it. */
function readScalar(tensor: tf.Tensor): number {
  const value = tensor.dataSync()[0]!;
  tensor.dispose();
  return value;
}
