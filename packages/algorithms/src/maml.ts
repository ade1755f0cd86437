import { type AdaptSelection, ConcordError, expectInteger, type MetaAlgorithm } from "@concord/core";
import { validateAdaptSelection } from "./adapt.js";
import { type ExecutionOption, weightedMetaStep } from "./meta-step.js";
import type { TaskPool } from "./parallel/pool-contract.js";

export interface MamlOptions {
  /** 2: differentiate through the inner loop; 1: first-order MAML (FOMAML). Default 2. */
  readonly order?: 1 | 2;
  /** Inner-loop steps on the support set. Default 1. */
  readonly innerSteps?: number;
  /** Default "auto": batched when the model supports it. */
  readonly execution?: ExecutionOption;
  /**
   * Batched execution only: at most this many tasks per batched pass, the passes run one after
   * another (bounds memory: a batched second-order tape grows with the tasks in it). Same results
   * up to float rounding. Default: the whole meta-batch in one pass.
   */
  readonly chunkSize?: number;
  /** Compute loss-before/after and cosine diagnostics every step. Default true. */
  readonly diagnostics?: boolean;
  /** Worker threads that share the tasks of per-task execution (createTaskPool from @concord/algorithms/node); same results as without. */
  readonly pool?: TaskPool;
  /**
   * Which parameters the inner loop adapts: "all" (default), "head" (ANIL: the model's `head`) or
   * parameter names. The others still get the meta-gradient through the query loss (at second
   * order also through the adapted parameters' dependence on them).
   */
  readonly adapt?: AdaptSelection;
}

/**
 * MAML with task weights: d = Σ_i w_i ∇_θ L_query_i(f_θ'_i), where θ'_i is the inner loop's result.
 * Order 2 differentiates through the inner loop; order 1 treats θ'_i as a constant. With uniform
 * weights this is exactly the classic averaged MAML meta-gradient.
 */
export function maml(options: MamlOptions = {}): MetaAlgorithm {
  const { order = 2, innerSteps = 1, execution = "auto", diagnostics = true, pool, chunkSize } = options;
  if (order !== 1 && order !== 2) throw new ConcordError(`expected 1 or 2, got ${JSON.stringify(order)}`, { field: "order" });
  const adapt = validateAdaptSelection(options.adapt ?? "all");
  if (chunkSize !== undefined) expectInteger(chunkSize, "chunkSize", 1);
  const kind = order === 2 ? "second-order" : "first-order";
  return {
    name: order === 2 ? "maml" : "fomaml",
    adapt,
    step: (context) => weightedMetaStep(context, kind, { innerSteps, execution, diagnostics, pool, adapt, chunkSize }),
  };
}
