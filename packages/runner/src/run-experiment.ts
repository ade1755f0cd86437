import type { EvaluationResult, TaskPool } from "@concord/algorithms";
import type { InnerOptimizer, Model, Objective, Params, TaskSampler } from "@concord/core";
import { useBackend } from "@concord/backend";
import { createRegistry } from "./builtins.js";
import type { LoadedCheckpoint } from "./checkpoint.js";
import { configToJson, type ExperimentConfig } from "./config.js";
import { createOuterOptimizer, createParts, evaluateOnHeldOut } from "./experiment-parts.js";
import type { ProgressMode } from "./progress.js";
import type { Registry } from "./registry.js";
import { RunFolder } from "./run-folder.js";
import type { WriteFence } from "./run-lease.js";
import { runTrainingLoop } from "./training-loop.js";

export interface RunOptions {
  /** Output folder: config.json, metrics.jsonl, checkpoint.ckpt, evaluation.json. */
  readonly outDir: string;
  /** Continue from `<outDir>/checkpoint.ckpt` (same config required, iterations may grow). */
  readonly resume?: boolean;
  /** Plug-ins available to the config. Default: the built-ins. */
  readonly registry?: Registry;
  /** Names the run in progress output. Default: the output folder. */
  readonly label?: string;
  readonly progress?: ProgressMode;
  /** Evaluate on the held-out set after training. Default true. */
  readonly evaluate?: boolean;
  /**
   * Computes each meta-batch's tasks elsewhere (passed to the algorithm as `pool`: maml, fomaml and
   * reptile use it with per-task execution). The caller closes it. Results equal a run without it.
   */
  readonly pool?: TaskPool;
  /**
   * Checked before every write into the run folder (see leaseFence): a queued run's worker that lost
   * the run to another one writes nothing more. Default: none (one writer).
   */
  readonly fence?: WriteFence;
}

export interface RunResult {
  readonly outDir: string;
  readonly backend: string;
  /** Final parameters; the caller owns (and disposes) them. */
  readonly params: Params;
  readonly iteration: number;
  readonly evaluation: EvaluationResult | undefined;
  /** Training wall time across resumes, seconds (evaluation excluded). */
  readonly trainSeconds: number;
  readonly checkpointPath: string;
  readonly metricsPath: string;
  readonly model: Model;
  readonly objective: Objective;
  readonly innerOptimizer: InnerOptimizer;
  readonly evaluationSampler: TaskSampler;
}

/**
 * Trains one config end to end: picks the backend, creates the plug-ins, trains with metrics and
 * checkpoints (see runTrainingLoop), then evaluates on the fixed held-out set. With `resume`,
 * continues from the checkpoint so that the final parameters equal, bit for bit, those of an
 * uninterrupted run. Bad input (config, output folder, checkpoint) throws a ConcordError before
 * anything is written.
 */
export async function runExperiment(config: ExperimentConfig, options: RunOptions): Promise<RunResult> {
  const registry = options.registry ?? createRegistry();
  const backend = await useBackend(config.backend, { skipKernels: config.skipKernels });
  const folder = new RunFolder(options.outDir, options.fence ? { fence: options.fence } : {});
  const resume = Boolean(options.resume);

  // Everything that can be refused is checked before the first byte is written.
  const parts = await createParts(config, registry, options.pool ? { pool: options.pool } : {});
  folder.prepare(resume);
  const checkpoint: LoadedCheckpoint | undefined = resume ? folder.loadResumable(config, backend) : undefined;
  const outerOptimizer = createOuterOptimizer(config, registry);

  folder.removeStaleTempFiles();
  const configJson = configToJson(config);
  folder.writeConfig(configJson);
  const trained = runTrainingLoop({
    config,
    configJson,
    parts,
    outerOptimizer,
    folder,
    backend,
    ...(checkpoint ? { checkpoint } : {}),
    label: options.label ?? options.outDir,
    progress: options.progress ?? "auto",
  });

  let evaluation: EvaluationResult | undefined;
  if (options.evaluate !== false) {
    evaluation = evaluateOnHeldOut(trained.params, parts, config);
    folder.writeEvaluation(trained.iteration, evaluation);
  }
  return {
    outDir: options.outDir,
    backend,
    params: trained.params,
    iteration: trained.iteration,
    evaluation,
    trainSeconds: trained.trainSeconds,
    checkpointPath: folder.checkpointPath,
    metricsPath: folder.metricsPath,
    model: parts.model,
    objective: parts.objective,
    innerOptimizer: parts.innerOptimizer,
    evaluationSampler: parts.evaluationSampler,
  };
}
