import * as tf from "@tensorflow/tfjs-core";
import { ConcordError, type WeightingScheme } from "@concord/core";
import { readLosses } from "./losses.js";
import { expectUpdates } from "./updates.js";

export interface TailRiskOptions {
  /** The fraction of the batch in the tail, in (0, 1]: the k = max(1, ⌈alpha·N⌉) highest-loss tasks. */
  readonly alpha: number;
}

/**
 * Tail-risk (CVaR) weighting: the meta-batch's empirical conditional value-at-risk at level alpha,
 * CVaR_α = (1/k) Σ of the k largest L_i with k = max(1, ⌈α·N⌉), as task weights:
 *
 *     w_i = 1/k for the k tasks with the largest query loss L_i, w_i = 0 for the others,
 *
 * ties going to the lower task index first. Weighting the meta-gradient so minimises the mean loss
 * of the worst α-fraction of tasks (Rockafellar & Uryasev, "Optimization of Conditional
 * Value-at-Risk", Journal of Risk 2000), the tail-risk objective of robust meta-learning in
 * Wang, Lv, Feng, Xie & Huang, "A Simple Yet Effective Strategy to Robustify the Meta Learning
 * Paradigm", NeurIPS 2023 (their two-stage strategy keeps the tasks whose loss is above the
 * estimated value-at-risk; this scheme uses the batch itself as the estimate). Here alpha is the
 * tail's size; a "confidence level" β in that literature is 1 − alpha. alpha = 1 is uniform.
 * Non-finite losses are refused (ConcordError naming `losses`).
 */
export function tailRisk(options: TailRiskOptions): WeightingScheme {
  const alpha: unknown = (options as Partial<TailRiskOptions> | undefined)?.alpha;
  if (!(typeof alpha === "number" && Number.isFinite(alpha) && alpha > 0 && alpha <= 1)) {
    throw new ConcordError(`expected a number in (0, 1] (the fraction of tasks in the tail), got ${describe(alpha)}`, { field: "alpha" });
  }
  return {
    name: "tailRisk",
    weights(input) {
      const tasks = expectUpdates(input, "tailRisk");
      const losses = readLosses(input, tasks, "tailRisk");
      const count = tailCount(alpha, tasks);
      const byLoss = losses.map((_, i) => i).sort((a, b) => losses[b]! - losses[a]! || a - b);
      const weights = new Float32Array(tasks);
      for (const i of byLoss.slice(0, count)) weights[i] = 1 / count;
      return { weights: tf.tensor1d(weights, "float32") };
    },
  };
}

/**
 * k = max(1, ⌈alpha · tasks⌉), with a product within a few ulps of an integer taken as that integer.
 * alpha is the binary double nearest the decimal a user wrote, and the product is rounded once
 * more: 0.28 · 25 evaluates to 7.000000000000001, whose ceiling 8 is not the intended 7. Both
 * errors together are below 2^-52 relative (4 · 2^-52 leaves a margin), far smaller than the
 * fractional part of any α·N a user means, so this changes nothing but those round-off cases.
 */
export function tailCount(alpha: number, tasks: number): number {
  const product = alpha * tasks;
  const nearest = Math.round(product);
  const roundOff = Math.abs(product - nearest) <= 4 * Number.EPSILON * Math.max(1, product);
  return Math.min(tasks, Math.max(1, roundOff ? nearest : Math.ceil(product)));
}

function describe(value: unknown): string {
  return typeof value === "number" ? String(value) : (JSON.stringify(value) ?? String(value));
}
