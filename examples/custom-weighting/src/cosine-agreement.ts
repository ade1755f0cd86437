import * as tf from "@tensorflow/tfjs-core";
import { ConcordError, type WeightingScheme } from "@concord/core";

export interface CosineAgreementOptions {
  /** Fall back to uniform weights when Σ_k |s_k| ≤ eps (the batch has no direction). Default 1e-6. */
  readonly eps?: number;
}

/**
 * Cosine-similarity agreement, a user-written weighting scheme:
 *
 *     s_i = (1/N) Σ_j cos(g_i, g_j),      w_i = s_i / Σ_k |s_k|
 *
 * Like gradient agreement, a task whose update g_i = θ − θ'_i points against the batch gets a
 * negative weight, but every task counts by direction only, so one task with a huge update cannot
 * dominate. A zero update has no direction (its cosines are 0). When every s_i is ~0 the scheme
 * falls back to uniform weights and says so. Weights are computed from values read back from the
 * backend, so they are constants for differentiation.
 */
export function cosineAgreement(options: CosineAgreementOptions = {}): WeightingScheme {
  const eps = options.eps ?? 1e-6;
  if (typeof eps !== "number" || !Number.isFinite(eps) || eps < 0) {
    throw new ConcordError(`expected a finite number >= 0, got ${JSON.stringify(eps)}`, { field: "eps" });
  }
  return {
    name: "my-cosine-agreement",
    weights({ updates }) {
      if (!(updates instanceof tf.Tensor) || updates.rank !== 2) {
        throw new ConcordError("expected a rank-2 tensor [tasks, parameters]", { field: "updates" });
      }
      const tasks = updates.shape[0];
      const scores = tf.tidy(() => {
        // Scale each row by its largest |entry| first, so squaring can neither underflow nor overflow.
        const largest = tf.max(tf.abs(updates), 1, true);
        const scaled = tf.div(updates, tf.maximum(largest, 1e-37));
        const norms = tf.sqrt(tf.sum(tf.square(scaled), 1, true));
        const units = tf.div(scaled, tf.maximum(norms, 1e-30)); // zero rows stay zero
        const total = tf.sum(units, 0, true); // [1, P]: Σ_j u_j
        return tf.matMul(units, total, false, true); // [N, 1]: Σ_j cos(g_i, g_j)
      });
      const values = Array.from(scores.dataSync(), (value) => value / tasks);
      scores.dispose();
      const denominator = values.reduce((sum, value) => sum + Math.abs(value), 0);
      if (!Number.isFinite(denominator) || denominator <= eps) {
        return { weights: tf.fill([tasks], 1 / tasks, "float32") as tf.Tensor1D, fellBack: true };
      }
      return {
        weights: tf.tensor1d(
          values.map((value) => value / denominator),
          "float32",
        ),
        fellBack: false,
      };
    },
  };
}
