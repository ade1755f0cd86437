import * as tf from "@tensorflow/tfjs-core";
import { disposeParams, flattenStackedParams, mapParams, type Params, type Task } from "@concord/core";
import type { AdaptOptions } from "./adapt.js";
import { computeTaskResults, type TaskExecution } from "./task-results.js";

/**
 * The per-task updates g_i = θ − θ'_i, one flattened row per task: the [N, P] matrix a weighting scheme
 * is given. `adapted` holds θ'_i stacked on a leading task axis (θ broadcasts over it).
 */
export function updatesFromAdapted(params: Params, adapted: Params): { differences: Params; updates: tf.Tensor2D } {
  const differences = mapParams(params, (value, name) => tf.sub(value, adapted[name]!));
  return { differences, updates: flattenStackedParams(differences) };
}

/**
 * Adapts θ to each task's support set and returns g_i = θ − θ'_i as an [N, P] matrix, exactly as a
 * meta-step hands it to its weighting scheme (for analyses of a weighting at given parameters).
 */
export function taskUpdates(params: Params, tasks: readonly Task[], options: AdaptOptions, execution: TaskExecution = {}): tf.Tensor2D {
  const results = computeTaskResults(params, tasks, "none", options, execution);
  try {
    return tf.tidy(() => updatesFromAdapted(params, results.adapted).updates);
  } finally {
    disposeParams(results.adapted);
  }
}
