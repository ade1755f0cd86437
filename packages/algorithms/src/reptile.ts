import type { AdaptSelection, MetaAlgorithm } from "@concord/core";
import { validateAdaptSelection } from "./adapt.js";
import { type ExecutionOption, weightedMetaStep } from "./meta-step.js";
import type { TaskPool } from "./parallel/pool-contract.js";

export interface ReptileOptions {
  /** Inner-loop steps on the support set. Default 5. */
  readonly innerSteps?: number;
  readonly execution?: ExecutionOption;
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
  const { innerSteps = 5, execution = "auto", diagnostics = true, pool } = options;
  const adapt = validateAdaptSelection(options.adapt ?? "all");
  return {
    name: "reptile",
    adapt,
    step: (context) => weightedMetaStep(context, "none", { innerSteps, execution, diagnostics, pool, adapt }),
  };
}
