import { type AdaptSelection, expectInteger, type MetaAlgorithm } from "@concord/core";
import { validateAdaptSelection } from "./adapt.js";
import { type ExecutionOption, weightedMetaStep } from "./meta-step.js";
import type { TaskPool } from "./parallel/pool-contract.js";

export interface ReptileOptions {
  /** Inner-loop steps on the support set. Default 5. */
  readonly innerSteps?: number;
  readonly execution?: ExecutionOption;
  /**
   * Batched execution only: at most this many tasks per batched pass, the passes run one after
   * another (bounds memory: a batched second-order tape grows with the tasks in it). Same results
   * up to float rounding. Default: the whole meta-batch in one pass.
   */
  readonly chunkSize?: number;
  readonly diagnostics?: boolean;
  /** Worker threads that share the tasks of per-task execution (createTaskPool from @concord/algorithms/node); same results as without. */
  readonly pool?: TaskPool;
  /**
   * Which parameters the inner loop adapts, as for maml(). Reptile's direction is θ − θ'_i, so
   * parameters left out of adaptation get a zero meta-gradient (they stay at their initial values).
   */
  readonly adapt?: AdaptSelection;
}

/**
 * Reptile with task weights: d = Σ_i w_i (θ − θ'_i), so plain SGD on d gives
 * θ ← θ + β Σ_i w_i (θ'_i − θ). With uniform weights this is the classic batched Reptile step.
 */
export function reptile(options: ReptileOptions = {}): MetaAlgorithm {
  const { innerSteps = 5, execution = "auto", diagnostics = true, pool, chunkSize } = options;
  const adapt = validateAdaptSelection(options.adapt ?? "all");
  if (chunkSize !== undefined) expectInteger(chunkSize, "chunkSize", 1);
  return {
    name: "reptile",
    adapt,
    step: (context) => weightedMetaStep(context, "none", { innerSteps, execution, diagnostics, pool, adapt, chunkSize }),
  };
}
