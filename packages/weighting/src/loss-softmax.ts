import * as tf from "@tensorflow/tfjs-core";
import { ConcordError, type WeightingScheme } from "@concord/core";
import { readLosses } from "./losses.js";
import { expectUpdates } from "./updates.js";

export interface LossSoftmaxOptions {
  /** τ > 0 (default 1). Small τ concentrates the weight on the highest-loss task; τ → ∞ gives 1/N. */
  readonly temperature?: number;
}

/**
 * Loss softmax: the exponentiated form of loss-based task weighting,
 *
 *     w_i = exp((L_i − max_j L_j)/τ) / Σ_j exp((L_j − max_j L_j)/τ),
 *
 * computed in float64 (subtracting the maximum keeps every exponent ≤ 0, so nothing overflows and
 * the largest term is 1). What it optimises, precisely: these w are the maximiser of the
 * KL-regularised worst case over reweightings of the batch, max_{q ∈ Δ} Σ_i q_i L_i − τ·KL(q ‖ 1/N)
 * (the penalised form of KL distributionally robust optimisation), and with w held constant,
 * Σ_i w_i ∇L_i is the gradient of that objective's value τ·log((1/N) Σ_i exp(L_i/τ)), the
 * task-level tilted empirical risk of Li, Beirami, Sanjabi & Smith ("Tilted Empirical Risk
 * Minimization", ICLR 2021) with tilt 1/τ. That holds for MAML's meta-gradient; for Reptile the
 * weighted update is the analogous heuristic. It moves from the mean (τ → ∞) toward the worst task
 * (τ → 0). TAML (Jamal & Qi, "Task Agnostic Meta-Learning for Few-Shot Learning", CVPR 2019)
 * shares the aim of evening out the tasks' losses but does it differently, by adding an inequality
 * measure of the losses to the meta-objective; this scheme is not TAML. Non-finite losses are
 * refused (ConcordError naming `losses`).
 */
export function lossSoftmax(options: LossSoftmaxOptions = {}): WeightingScheme {
  const given: unknown = options?.temperature;
  const temperature = given === undefined ? 1 : given;
  if (!(typeof temperature === "number" && Number.isFinite(temperature) && temperature > 0)) {
    const got = typeof temperature === "number" ? String(temperature) : JSON.stringify(temperature);
    throw new ConcordError(`expected a finite number > 0, got ${got}`, { field: "temperature" });
  }
  return {
    name: "lossSoftmax",
    weights(input) {
      const tasks = expectUpdates(input, "lossSoftmax");
      const losses = readLosses(input, tasks, "lossSoftmax");
      const largest = Math.max(...losses);
      // An exponent can be −∞ (a tiny τ), giving exp = 0; the largest loss's term is exactly 1.
      const terms = losses.map((loss) => Math.exp((loss - largest) / temperature));
      const total = terms.reduce((sum, term) => sum + term, 0);
      return {
        weights: tf.tensor1d(
          terms.map((term) => term / total),
          "float32",
        ),
      };
    },
  };
}
