import { accessSync, constants, existsSync, mkdirSync, statSync } from "node:fs";
import { join } from "node:path";
import * as tf from "@tensorflow/tfjs-core";
import { ConcordError, disposeParams, type Model, type Objective, type InnerOptimizer, type MetaAlgorithm, type Params, type TaskSampler } from "@concord/core";
import { useBackend } from "@concord/backend";
import { createRegistry } from "./builtins.js";
import {
  CHECKPOINT_FILE,
  type CheckpointData,
  disposeCheckpoint,
  type LoadedCheckpoint,
  loadCheckpoint,
  removeStaleTempFiles,
  saveCheckpoint,
  writeFileAtomicSync,
} from "./checkpoint.js";
import { configToJson, type ExperimentConfig, firstTrainingDifference, parseConfig, type PluginSpec } from "./config.js";
import { type EvaluationResult, evaluate } from "./evaluate.js";
import { METRICS_FILE, MetricsLog, metricsRecord } from "./metrics-log.js";
import { createProgress, type ProgressMode } from "./progress.js";
import type { Registry } from "./registry.js";
import { describeValue } from "./schema-errors.js";
import { train } from "./train.js";

export const CONFIG_FILE = "config.json";

/** Training stopped on a non-finite loss, gradient or parameter (a runtime failure, not bad input). */
export class TrainingDiverged extends ConcordError {
  override readonly name = "TrainingDiverged";
}
export const EVALUATION_FILE = "evaluation.json";

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
}

/** The plug-ins a config names, created and shape-checked. */
export interface ExperimentParts {
  readonly sampler: TaskSampler;
  readonly evaluationSampler: TaskSampler;
  readonly model: Model;
  readonly objective: Objective;
  readonly innerOptimizer: InnerOptimizer;
  readonly algorithm: MetaAlgorithm;
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
 * Trains one config end to end: picks the backend, creates the plug-ins, writes one metrics line
 * per iteration, checkpoints atomically every `checkpointEvery` iterations and at the end, shows
 * progress, then evaluates on the fixed held-out set. With `resume`, continues from the checkpoint
 * so that the final parameters equal, bit for bit, those of an uninterrupted run.
 * Bad input (config, output folder, checkpoint) throws a ConcordError before anything is written.
 */
export async function runExperiment(config: ExperimentConfig, options: RunOptions): Promise<RunResult> {
  const registry = options.registry ?? createRegistry();
  const backend = await useBackend(config.backend);
  const outDir = options.outDir;
  const checkpointPath = join(outDir, CHECKPOINT_FILE);
  const metricsPath = join(outDir, METRICS_FILE);
  const configJson = configToJson(config);

  // Everything that can be refused is checked before the first byte is written.
  const { sampler, evaluationSampler, model, objective, innerOptimizer, algorithm } = await createParts(config, registry);
  const weighting = registry.create("weighting", config.weighting, "weighting");
  prepareOutputFolder(outDir, Boolean(options.resume));
  let checkpoint: LoadedCheckpoint | undefined;
  if (options.resume) {
    checkpoint = loadCheckpoint(checkpointPath);
    try {
      checkResumable(checkpoint, config, backend, checkpointPath);
    } catch (error) {
      disposeCheckpoint(checkpoint);
      throw error;
    }
  }

  const outerOptimizer = registry.create("outerOptimizer", config.outerOptimizer, "outerOptimizer");
  removeStaleTempFiles(checkpointPath);
  removeStaleTempFiles(join(outDir, CONFIG_FILE));
  removeStaleTempFiles(join(outDir, EVALUATION_FILE));
  const metrics = checkpoint ? MetricsLog.resume(metricsPath, checkpoint.metricsOffset) : MetricsLog.create(metricsPath);
  writeFileAtomicSync(join(outDir, CONFIG_FILE), [`${JSON.stringify(configJson, null, 2)}\n`]);
  if (checkpoint) outerOptimizer.setState(checkpoint.optimizerState);

  const startIteration = checkpoint?.iteration ?? 0;
  const progress = createProgress({
    mode: options.progress ?? "auto",
    label: options.label ?? outDir,
    start: startIteration,
    total: config.iterations,
    every: config.logEvery,
  });
  let fallbacks = checkpoint?.fallbacks ?? 0;
  const elapsedBefore = checkpoint?.elapsedSeconds ?? 0;
  const started = performance.now();
  let lastTick = started;
  let lastCheckpoint = startIteration;
  const elapsed = () => elapsedBefore + (performance.now() - started) / 1000;
  const save = (state: { iteration: number; params: Params; taskRngState: CheckpointData["taskRngState"] }) => {
    metrics.sync();
    const optimizerState = outerOptimizer.getState();
    try {
      saveCheckpoint(checkpointPath, {
        iteration: state.iteration,
        params: state.params,
        optimizerState,
        taskRngState: state.taskRngState,
        config: configJson,
        metricsOffset: metrics.byteLength,
        fallbacks,
        backend,
        elapsedSeconds: elapsed(),
      });
    } finally {
      tf.dispose(Object.values(optimizerState.slots));
    }
    lastCheckpoint = state.iteration;
  };

  let result: ReturnType<typeof train>;
  try {
    result = train({
      sampler,
      model,
      objective,
      algorithm,
      weighting,
      innerOptimizer,
      outerOptimizer,
      metaBatchSize: config.metaBatchSize,
      iterations: config.iterations,
      seed: config.seed,
      ...(checkpoint
        ? { resumeFrom: { iteration: checkpoint.iteration, params: checkpoint.params, taskRngState: checkpoint.taskRngState } }
        : {}),
      onIteration: ({ iteration, metrics: step, state }) => {
        const now = performance.now();
        if (step.fellBack) fallbacks += 1;
        metrics.append(metricsRecord(iteration, step, fallbacks, elapsed(), (now - lastTick) / 1000));
        lastTick = now;
        progress.update(iteration, step.queryLossAfter);
        if (iteration % config.checkpointEvery === 0 || iteration === config.iterations) save(state);
      },
    });
    // A run resumed at (or past) its last iteration trains nothing: still leave a final checkpoint.
    if (result.iteration !== lastCheckpoint) save({ iteration: result.iteration, params: result.params, taskRngState: result.taskRngState });
  } catch (error) {
    progress.stop();
    metrics.close();
    outerOptimizer.dispose();
    if (checkpoint) disposeCheckpoint(checkpoint);
    if (error instanceof ConcordError && error.field === "iteration") {
      const kept = existsSync(checkpointPath)
        ? `the last good checkpoint (iteration ${lastCheckpoint}) is kept at ${checkpointPath}`
        : "no checkpoint had been written yet";
      throw new TrainingDiverged(`${error.message}; ${kept}`, { cause: error });
    }
    throw error;
  }
  progress.stop();
  metrics.close();
  outerOptimizer.dispose();
  // train() never disposes the params it was resumed from; the result may be those same tensors.
  if (checkpoint) {
    if (result.params !== checkpoint.params) disposeParams(checkpoint.params);
    tf.dispose(Object.values(checkpoint.optimizerState.slots));
  }
  const trainSeconds = elapsed();

  let evaluation: EvaluationResult | undefined;
  if (options.evaluate !== false) {
    evaluation = evaluate(result.params, {
      model,
      objective,
      innerOptimizer,
      sampler: evaluationSampler,
      taskCount: config.evaluation.tasks,
      maxInnerSteps: config.evaluation.innerSteps,
      seed: config.evaluation.seed,
      ...(config.evaluation.chunkSize !== undefined ? { chunkSize: config.evaluation.chunkSize } : {}),
    });
    writeFileAtomicSync(join(outDir, EVALUATION_FILE), [`${JSON.stringify({ iteration: result.iteration, ...evaluation })}\n`]);
  }
  return {
    outDir,
    backend,
    params: result.params,
    iteration: result.iteration,
    evaluation,
    trainSeconds,
    checkpointPath,
    metricsPath,
    model,
    objective,
    innerOptimizer,
    evaluationSampler,
  };
}

/** Creates every plug-in a config names (task families may load data, hence async). */
export async function createParts(config: ExperimentConfig, registry: Registry): Promise<ExperimentParts> {
  return {
    sampler: await registry.createAsync("tasks", config.tasks, "tasks"),
    evaluationSampler: await registry.createAsync("tasks", evaluationSpec(config), config.evaluation.sampler ? "evaluation.sampler" : "tasks"),
    model: registry.create("model", config.model, "model"),
    objective: registry.create("objective", config.objective, "objective"),
    innerOptimizer: registry.create("innerOptimizer", config.innerOptimizer, "innerOptimizer"),
    algorithm: registry.create("algorithm", config.algorithm, "algorithm"),
  };
}

/** The evaluation task family: `evaluation.sampler`, else the training tasks without `corruption` (clean tasks). */
export function evaluationSpec(config: ExperimentConfig): PluginSpec {
  if (config.evaluation.sampler) return config.evaluation.sampler;
  const { corruption: _corruption, ...clean } = config.tasks.options;
  return { name: config.tasks.name, options: clean };
}

/** Reads the config a checkpoint was trained with. */
export function checkpointConfig(checkpoint: Pick<CheckpointData, "config">, path: string): ExperimentConfig {
  try {
    return parseConfig(checkpoint.config);
  } catch (error) {
    throw new ConcordError(`the checkpoint's config is not valid: ${(error as Error).message}`, { field: path, cause: error });
  }
}

function checkResumable(checkpoint: LoadedCheckpoint, config: ExperimentConfig, backend: string, path: string): void {
  const saved = checkpointConfig(checkpoint, path);
  const difference = firstTrainingDifference(saved, config);
  if (difference) {
    throw new ConcordError(
      `--resume refused: config field "${difference.field}" is ${describeValue(difference.b)} but the checkpoint was trained with ${describeValue(difference.a)}`,
      { field: difference.field },
    );
  }
  if (checkpoint.backend !== backend) {
    throw new ConcordError(
      `--resume refused: the checkpoint was trained on the ${checkpoint.backend} backend, this run uses ${backend} (results would not be bit-identical); pass --backend ${checkpoint.backend}`,
      { field: "backend" },
    );
  }
  if (checkpoint.iteration > config.iterations) {
    throw new ConcordError(`expected at least the checkpoint's ${checkpoint.iteration} iterations, got ${config.iterations}`, { field: "iterations" });
  }
}

/** Creates the output folder and refuses to overwrite an existing run unless resuming it. */
function prepareOutputFolder(outDir: string, resume: boolean): void {
  try {
    mkdirSync(outDir, { recursive: true });
    if (!statSync(outDir).isDirectory()) throw Object.assign(new Error("not a directory"), { code: "ENOTDIR" });
    accessSync(outDir, constants.W_OK);
  } catch (error) {
    throw new ConcordError(`expected a writable output folder, got ${JSON.stringify(outDir)} (${(error as NodeJS.ErrnoException).code ?? String(error)})`, {
      field: "--out",
      cause: error,
    });
  }
  const checkpointPath = join(outDir, CHECKPOINT_FILE);
  if (resume) {
    if (!existsSync(checkpointPath)) throw new ConcordError(`--resume: no checkpoint to resume from at ${checkpointPath}`, { field: "--out" });
    return;
  }
  for (const name of [CHECKPOINT_FILE, METRICS_FILE]) {
    if (existsSync(join(outDir, name))) {
      throw new ConcordError(`${outDir} already holds a run (${name}); pass --resume to continue it, or choose another --out`, { field: "--out" });
    }
  }
}
