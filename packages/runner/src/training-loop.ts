import * as tf from "@tensorflow/tfjs-core";
import { ConcordError, disposeParams, type OuterOptimizer, type Params, type WeightingScheme } from "@concord/core";
import { type CheckpointData, disposeCheckpoint, type LoadedCheckpoint, saveCheckpoint } from "./checkpoint.js";
import type { ExperimentConfig } from "./config.js";
import type { ExperimentParts } from "./experiment-parts.js";
import { MetricsLog, metricsRecord } from "./metrics-log.js";
import { createProgress, type ProgressMode } from "./progress.js";
import type { RunFolder } from "./run-folder.js";
import { train } from "./train.js";

/**
 * Gives a stateful weighting scheme (TR-MAML) the state saved with the checkpoint, so the resumed run
 * continues bit for bit; a state the scheme cannot take, or a stateful scheme without a saved state,
 * is refused rather than silently restarted.
 */
function restoreWeightingState(weighting: WeightingScheme, checkpoint: LoadedCheckpoint, path: string): void {
  const saved = checkpoint.weightingState;
  if (saved && !weighting.setState) {
    throw new ConcordError(`${path} holds state of weighting scheme '${saved.name}', but '${weighting.name}' keeps no state`, { field: "weighting" });
  }
  if (!saved && weighting.getState) {
    throw new ConcordError(`${path} holds no weighting state, but weighting scheme '${weighting.name}' is stateful: it cannot resume bit for bit`, {
      field: "weighting",
    });
  }
  if (saved) weighting.setState!(saved);
}

/** Training stopped on a non-finite loss, gradient or parameter (a runtime failure, not bad input). */
export class TrainingDiverged extends ConcordError {
  override readonly name = "TrainingDiverged";
}

export interface TrainingLoopOptions {
  readonly config: ExperimentConfig;
  /** The config as written to config.json and into every checkpoint. */
  readonly configJson: Record<string, unknown>;
  readonly parts: ExperimentParts;
  /** Owned by the loop from here on: restored from the checkpoint, disposed at the end. */
  readonly outerOptimizer: OuterOptimizer;
  readonly folder: RunFolder;
  readonly backend: string;
  /** Continue from here (checked by RunFolder.loadResumable); owned by the loop from here on. */
  readonly checkpoint?: LoadedCheckpoint;
  readonly label: string;
  readonly progress: ProgressMode;
}

export interface TrainingLoopResult {
  /** Final parameters; the caller owns them. */
  readonly params: Params;
  readonly iteration: number;
  /** Training wall time across resumes, seconds. */
  readonly trainSeconds: number;
}

/**
 * Trains with one metrics line per iteration and an atomic checkpoint every `checkpointEvery`
 * iterations and at the end, showing progress. A non-finite loss, gradient or parameter becomes
 * TrainingDiverged, naming the last good checkpoint (which is kept).
 */
export function runTrainingLoop(options: TrainingLoopOptions): TrainingLoopResult {
  const { config, parts, outerOptimizer, folder, checkpoint } = options;
  const metrics = checkpoint
    ? MetricsLog.resume(folder.metricsPath, checkpoint.metricsOffset, folder.fence)
    : MetricsLog.create(folder.metricsPath, folder.fence);
  if (checkpoint) {
    outerOptimizer.setState(checkpoint.optimizerState);
    restoreWeightingState(parts.weighting, checkpoint, folder.checkpointPath);
  }
  const startIteration = checkpoint?.iteration ?? 0;
  const progress = createProgress({ mode: options.progress, label: options.label, start: startIteration, total: config.iterations, every: config.logEvery });
  let fallbacks = checkpoint?.fallbacks ?? 0;
  const elapsedBefore = checkpoint?.elapsedSeconds ?? 0;
  const started = performance.now();
  let lastTick = started;
  let lastCheckpoint = startIteration;
  const elapsed = () => elapsedBefore + (performance.now() - started) / 1000;
  const save = (state: { iteration: number; params: Params; taskRngState: CheckpointData["taskRngState"] }) => {
    metrics.sync();
    const optimizerState = outerOptimizer.getState();
    const weightingState = parts.weighting.getState?.();
    const data: CheckpointData = {
      iteration: state.iteration,
      params: state.params,
      optimizerState,
      taskRngState: state.taskRngState,
      config: options.configJson,
      metricsOffset: metrics.byteLength,
      fallbacks,
      backend: options.backend,
      elapsedSeconds: elapsed(),
      ...(weightingState ? { weightingState } : {}),
    };
    try {
      // The kept copy first: once the main checkpoint has moved past this iteration, a crash must not lose it.
      if (config.keepCheckpoints.includes(state.iteration)) saveCheckpoint(folder.keptCheckpointPath(state.iteration), data, folder.writeOptions());
      saveCheckpoint(folder.checkpointPath, data, folder.writeOptions());
    } finally {
      tf.dispose(Object.values(optimizerState.slots));
    }
    lastCheckpoint = state.iteration;
  };
  const finish = () => {
    progress.stop();
    metrics.close();
    outerOptimizer.dispose();
  };

  let result: ReturnType<typeof train>;
  try {
    result = train({
      sampler: parts.sampler,
      model: parts.model,
      objective: parts.objective,
      algorithm: parts.algorithm,
      weighting: parts.weighting,
      innerOptimizer: parts.innerOptimizer,
      outerOptimizer,
      metaBatchSize: config.metaBatchSize,
      iterations: config.iterations,
      seed: config.seed,
      ...(checkpoint ? { resumeFrom: { iteration: checkpoint.iteration, params: checkpoint.params, taskRngState: checkpoint.taskRngState } } : {}),
      onIteration: ({ iteration, metrics: step, state }) => {
        const now = performance.now();
        if (step.fellBack) fallbacks += 1;
        metrics.append(metricsRecord(iteration, step, fallbacks, elapsed(), (now - lastTick) / 1000));
        lastTick = now;
        progress.update(iteration, step.queryLossAfter);
        if (iteration % config.checkpointEvery === 0 || iteration === config.iterations || config.keepCheckpoints.includes(iteration)) save(state);
      },
    });
    // A run resumed at (or past) its last iteration trains nothing: still leave a final checkpoint.
    if (result.iteration !== lastCheckpoint) save({ iteration: result.iteration, params: result.params, taskRngState: result.taskRngState });
  } catch (error) {
    finish();
    if (checkpoint) disposeCheckpoint(checkpoint);
    if (error instanceof ConcordError && error.field === "iteration") {
      const kept = folder.hasCheckpoint()
        ? `the last good checkpoint (iteration ${lastCheckpoint}) is kept at ${folder.checkpointPath}`
        : "no checkpoint had been written yet";
      throw new TrainingDiverged(`${error.message}; ${kept}`, { cause: error });
    }
    throw error;
  }
  finish();
  // train() never disposes the params it was resumed from; the result may be those same tensors.
  if (checkpoint) {
    if (result.params !== checkpoint.params) disposeParams(checkpoint.params);
    tf.dispose(Object.values(checkpoint.optimizerState.slots));
  }
  return { params: result.params, iteration: result.iteration, trainSeconds: elapsed() };
}
