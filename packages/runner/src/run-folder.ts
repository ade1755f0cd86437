import { accessSync, constants, existsSync, mkdirSync, readFileSync, renameSync, statSync } from "node:fs";
import { join } from "node:path";
import type { EvaluationResult } from "@concord/algorithms";
import { ConcordError } from "@concord/core";
import { removeStaleTempFiles, writeFileAtomicSync } from "./atomic-file.js";
import { CHECKPOINT_FILE, type CheckpointData, disposeCheckpoint, type LoadedCheckpoint, loadCheckpoint } from "./checkpoint.js";
import { type ExperimentConfig, firstResultDifference, firstTrainingDifference, parseConfig } from "./config.js";
import { METRICS_FILE } from "./metrics-log.js";
import { LEASE_FILE, type WriteFence } from "./run-lease.js";
import { describeValue } from "./schema-errors.js";

export const CONFIG_FILE = "config.json";
export const EVALUATION_FILE = "evaluation.json";
export { CHECKPOINT_FILE, METRICS_FILE };

/** evaluation.json: the evaluation of the run's final parameters, and their iteration. */
export type SavedEvaluation = EvaluationResult & { readonly iteration: number };

/**
 * An evaluation without its per-task lists (hundreds of numbers per step), which stay in the run's
 * evaluation.json: what results.json, exports and `concord eval --json` carry.
 */
export function evaluationSummary<T extends object>(evaluation: T): Omit<T, "perTaskLoss" | "perTaskAccuracy" | "perTaskGroup"> {
  const {
    perTaskLoss: _loss,
    perTaskAccuracy: _accuracy,
    perTaskGroup: _group,
    ...summary
  } = evaluation as T & { perTaskLoss?: unknown; perTaskAccuracy?: unknown; perTaskGroup?: unknown };
  return summary;
}

/**
 * One run's output folder: config.json, metrics.jsonl, checkpoint.ckpt, evaluation.json. Owns the
 * file names, refuses to overwrite a finished or running run unless it is resumed, checks that a
 * checkpoint may be resumed, and writes every file atomically (temp file, fsync, rename).
 */
export class RunFolder {
  readonly outDir: string;
  readonly configPath: string;
  readonly checkpointPath: string;
  readonly metricsPath: string;
  readonly evaluationPath: string;
  /** Checked before every write (see leaseFence); none for a folder only one process ever writes. */
  readonly fence: WriteFence | undefined;

  constructor(outDir: string, options: { readonly fence?: WriteFence } = {}) {
    this.outDir = outDir;
    this.fence = options.fence;
    this.configPath = join(outDir, CONFIG_FILE);
    this.checkpointPath = join(outDir, CHECKPOINT_FILE);
    this.metricsPath = join(outDir, METRICS_FILE);
    this.evaluationPath = join(outDir, EVALUATION_FILE);
  }

  /** Where the kept copy of iteration `iteration`'s checkpoint goes (config `keepCheckpoints`). */
  keptCheckpointPath(iteration: number): string {
    return join(this.outDir, CHECKPOINT_FILE.replace(/\.ckpt$/, `-${iteration}.ckpt`));
  }

  hasCheckpoint(): boolean {
    return existsSync(this.checkpointPath);
  }

  /**
   * For a resumed comparison: a run stopped before its first checkpoint cannot continue, so it starts
   * again. Its partial metrics.jsonl is kept as metrics.jsonl.interrupted (the restart writes the same
   * lines again: runs are deterministic). Returns whether there was such a file.
   */
  setAsideRunWithoutCheckpoint(): boolean {
    if (this.hasCheckpoint() || !existsSync(this.metricsPath)) return false;
    this.fence?.();
    renameSync(this.metricsPath, `${this.metricsPath}.interrupted`);
    return true;
  }

  /** Creates the folder (writable) and refuses to overwrite an existing run unless resuming it. */
  prepare(resume: boolean): void {
    this.fence?.();
    try {
      mkdirSync(this.outDir, { recursive: true });
      if (!statSync(this.outDir).isDirectory()) throw Object.assign(new Error("not a directory"), { code: "ENOTDIR" });
      accessSync(this.outDir, constants.W_OK);
    } catch (error) {
      throw new ConcordError(
        `expected a writable output folder, got ${JSON.stringify(this.outDir)} (${(error as NodeJS.ErrnoException).code ?? String(error)})`,
        {
          field: "--out",
          cause: error,
        },
      );
    }
    if (resume) {
      if (!this.hasCheckpoint()) throw new ConcordError(`--resume: no checkpoint to resume from at ${this.checkpointPath}`, { field: "--out" });
      return;
    }
    for (const name of [CHECKPOINT_FILE, METRICS_FILE]) {
      if (existsSync(join(this.outDir, name))) {
        throw new ConcordError(`${this.outDir} already holds a run (${name}); pass --resume to continue it, or choose another --out`, { field: "--out" });
      }
    }
  }

  /** The checkpoint to resume, once checked against this run's config and backend (the caller disposes it). */
  loadResumable(config: ExperimentConfig, backend: string): LoadedCheckpoint {
    const checkpoint = loadCheckpoint(this.checkpointPath);
    try {
      checkResumable(checkpoint, config, backend, this.checkpointPath);
    } catch (error) {
      disposeCheckpoint(checkpoint);
      throw error;
    }
    return checkpoint;
  }

  /** Temp files a killed process left behind (never the real files). */
  removeStaleTempFiles(): void {
    this.fence?.();
    for (const path of [this.checkpointPath, this.configPath, this.evaluationPath, join(this.outDir, LEASE_FILE)]) removeStaleTempFiles(path);
  }

  writeConfig(configJson: unknown): void {
    writeFileAtomicSync(this.configPath, [`${JSON.stringify(configJson, null, 2)}\n`], this.writeOptions());
  }

  writeEvaluation(iteration: number, evaluation: EvaluationResult): void {
    writeFileAtomicSync(this.evaluationPath, [`${JSON.stringify({ iteration, ...evaluation })}\n`], this.writeOptions());
  }

  /** Options for an atomic write into this folder (writeFileAtomicSync, saveCheckpoint): the fence right before the rename. */
  writeOptions(): { beforeRename?: WriteFence } {
    return this.fence ? { beforeRename: this.fence } : {};
  }

  /**
   * The evaluation of a run that already finished with this config: evaluation.json at the config's
   * last iteration, beside a config.json that differs from `config` in nothing that changes the result
   * (logging and checkpoint cadence may differ: firstResultDifference). undefined otherwise
   * (unfinished, evaluated earlier, another config, or a file that does not parse), so that a
   * resumed comparison skips finished runs instead of evaluating them again.
   */
  finishedEvaluation(config: ExperimentConfig): SavedEvaluation | undefined {
    try {
      const saved = parseConfig(JSON.parse(readFileSync(this.configPath, "utf8")));
      if (firstResultDifference(saved, config)) return undefined;
      const evaluation = this.readEvaluation();
      return evaluation.iteration === config.iterations ? evaluation : undefined;
    } catch {
      return undefined;
    }
  }

  readEvaluation(): SavedEvaluation {
    return JSON.parse(readFileSync(this.evaluationPath, "utf8")) as SavedEvaluation;
  }
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
