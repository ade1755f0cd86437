import { ConcordError } from "@concord/core";
import type { ExperimentConfig } from "@concord/runner";

/**
 * The config of a data-parallel run: the queue shares out per-task execution (batched execution
 * computes the whole meta-batch in one kernel call, nothing to share), so the algorithm's execution
 * is set to "per-task"; an explicit "batched" is refused. The run then equals a single-process run
 * of this same config bit for bit.
 */
export function queueTrainConfig(config: ExperimentConfig): ExperimentConfig {
  const execution = config.algorithm.options.execution;
  if (execution === "batched") {
    throw new ConcordError('--queue shares out per-task execution; set algorithm.execution to "per-task" or "auto", got "batched"', {
      field: "algorithm.execution",
    });
  }
  if (execution === "per-task") return config;
  return { ...config, algorithm: { ...config.algorithm, options: { ...config.algorithm.options, execution: "per-task" } } };
}
