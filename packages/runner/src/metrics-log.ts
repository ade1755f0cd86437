import { closeSync, fstatSync, fsyncSync, ftruncateSync, openSync, readFileSync, writeSync } from "node:fs";
import { ConcordError, type MetaStepMetrics } from "@concord/core";
import type { WriteFence } from "./run-lease.js";

/** File name of a run's per-iteration metrics inside its output folder. */
export const METRICS_FILE = "metrics.jsonl";

/** One line of metrics.jsonl. Non-finite numbers (e.g. the cosine of a single task) are written as null. */
export interface MetricsRecord {
  readonly iteration: number;
  readonly supportLossBefore: number | null;
  readonly supportLossAfter: number | null;
  readonly queryLossBefore: number | null;
  readonly queryLossAfter: number | null;
  readonly weightMin: number;
  readonly weightMax: number;
  readonly weightMean: number;
  readonly negativeWeights: number;
  /** Cumulative count of iterations whose weighting fell back to uniform. */
  readonly fallbacks: number;
  readonly meanPairwiseCosine: number | null;
  /** (Σ|w|)² / Σw² (absent in files written before it existed). */
  readonly effectiveTasks?: number | null;
  /** cos(Σ w_i G_i, Σ G_i) (absent in files written before it existed). */
  readonly weightedCosine?: number | null;
  readonly weights: readonly number[];
  /** Training wall time since the run started (across resumes), seconds. */
  readonly wallTimeSeconds: number;
  /** This iteration's duration, seconds. */
  readonly iterationSeconds: number;
}

/** Builds the record of one iteration from the algorithm's metrics. */
export function metricsRecord(
  iteration: number,
  metrics: MetaStepMetrics,
  fallbacks: number,
  wallTimeSeconds: number,
  iterationSeconds: number,
): MetricsRecord {
  const weights = metrics.weights;
  let min = Number.POSITIVE_INFINITY;
  let max = Number.NEGATIVE_INFINITY;
  let sum = 0;
  let negative = 0;
  for (const w of weights) {
    min = Math.min(min, w);
    max = Math.max(max, w);
    sum += w;
    if (w < 0) negative += 1;
  }
  return {
    iteration,
    supportLossBefore: finiteOrNull(metrics.supportLossBefore),
    supportLossAfter: finiteOrNull(metrics.supportLossAfter),
    queryLossBefore: finiteOrNull(metrics.queryLossBefore),
    queryLossAfter: finiteOrNull(metrics.queryLossAfter),
    weightMin: min,
    weightMax: max,
    weightMean: sum / weights.length,
    negativeWeights: negative,
    fallbacks,
    meanPairwiseCosine: finiteOrNull(metrics.meanPairwiseCosine),
    effectiveTasks: finiteOrNull(metrics.effectiveTasks),
    weightedCosine: finiteOrNull(metrics.weightedCosine),
    weights: [...weights],
    wallTimeSeconds,
    iterationSeconds,
  };
}

/**
 * An append-only JSON-lines log that knows its byte length, so a checkpoint can record the offset
 * and a resumed run can cut the file back to it (dropping lines of iterations it will redo).
 */
export class MetricsLog {
  readonly path: string;
  #fd: number;
  #bytes: number;
  #lines: number;
  readonly #fence: WriteFence | undefined;

  private constructor(path: string, fd: number, bytes: number, lines: number, fence: WriteFence | undefined) {
    this.path = path;
    this.#fd = fd;
    this.#bytes = bytes;
    this.#lines = lines;
    this.#fence = fence;
  }

  /** Creates (or empties) the log. `fence` is checked before the file is emptied and before every line. */
  static create(path: string, fence?: WriteFence): MetricsLog {
    fence?.();
    try {
      return new MetricsLog(path, openSync(path, "w"), 0, 0, fence);
    } catch (error) {
      throw new ConcordError(`cannot write metrics (${(error as NodeJS.ErrnoException).code ?? String(error)})`, { field: path, cause: error });
    }
  }

  /** Opens an existing log for appending after cutting it back to `offset` bytes (a checkpoint's); `fence` as in create. */
  static resume(path: string, offset: number, fence?: WriteFence): MetricsLog {
    let fd: number;
    try {
      fd = openSync(path, "r+");
    } catch (error) {
      throw new ConcordError(`cannot reopen metrics to resume (${(error as NodeJS.ErrnoException).code ?? String(error)})`, { field: path, cause: error });
    }
    const size = fstatSync(fd).size;
    if (size < offset) {
      closeSync(fd);
      throw new ConcordError(`expected at least ${offset} bytes (the checkpoint's metrics offset), got ${size}`, { field: path });
    }
    try {
      fence?.();
    } catch (error) {
      closeSync(fd);
      throw error;
    }
    ftruncateSync(fd, offset);
    const text = readFileSync(path, "utf8");
    const lines = text.length === 0 ? 0 : text.split("\n").length - 1;
    return new MetricsLog(path, fd, offset, lines, fence);
  }

  get byteLength(): number {
    return this.#bytes;
  }

  get lineCount(): number {
    return this.#lines;
  }

  append(record: MetricsRecord): void {
    this.#fence?.();
    const buffer = Buffer.from(`${JSON.stringify(record)}\n`, "utf8");
    let written = 0;
    while (written < buffer.length) written += writeSync(this.#fd, buffer, written, buffer.length - written, this.#bytes + written);
    this.#bytes += buffer.length;
    this.#lines += 1;
  }

  /** Flushes to disk (called before a checkpoint records the offset). */
  sync(): void {
    fsyncSync(this.#fd);
  }

  close(): void {
    if (this.#fd >= 0) {
      fsyncSync(this.#fd);
      closeSync(this.#fd);
      this.#fd = -1;
    }
  }
}

/** Reads a metrics.jsonl file back. */
export function readMetrics(path: string): MetricsRecord[] {
  const text = readFileSync(path, "utf8");
  return text
    .split("\n")
    .filter((line) => line.length > 0)
    .map((line) => JSON.parse(line) as MetricsRecord);
}

function finiteOrNull(value: number): number | null {
  return Number.isFinite(value) ? value : null;
}
