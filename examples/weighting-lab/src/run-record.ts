import { ConcordError } from "@concord/core";

/**
 * What the lab keeps of one training run: the per-task values of its evaluation at the last inner
 * step (the number the leaderboard ranks), each task's group, and what identifies the run. A run's
 * full evaluation.json (every step) stays in its uncommitted run folder; this is the committed record.
 */
export interface RunRecord {
  readonly preset: string;
  readonly algorithm: string;
  readonly weighting: string;
  readonly seed: number;
  readonly iterations: number;
  /** Fixes the held-out tasks: the same for every arm and seed of a preset, so arms are paired task by task. */
  readonly evaluationSeed: number;
  /** The inner step the values are from (the evaluation's last). */
  readonly step: number;
  readonly backend: string;
  /** Query loss of each held-out task after `step` inner steps. */
  readonly perTaskLoss: readonly number[];
  /** Query accuracy of each task, for classification. */
  readonly perTaskAccuracy?: readonly number[];
  /** Each task's group, when the evaluation sampler declares groups. */
  readonly perTaskGroup?: readonly number[];
  readonly groupNames?: readonly string[];
}

/** A run folder's evaluation.json, as far as the record needs it. */
interface SavedEvaluation {
  readonly iteration: number;
  readonly perTaskLoss: readonly (readonly number[])[];
  readonly perTaskAccuracy?: readonly (readonly number[])[];
  readonly perTaskGroup?: readonly number[];
  readonly groupNames?: readonly string[];
  readonly backend: string;
}

/** Float32 values need 9 significant digits to round-trip; 8 keep the record small and change no reported digit. */
const compact = (values: readonly number[]): number[] => values.map((value) => Number(value.toPrecision(8)));

/** The record of one run from its evaluation.json (parsed) and what the comparison knows of it. */
export function runRecordOf(
  evaluation: SavedEvaluation,
  run: { preset: string; algorithm: string; weighting: string; seed: number; evaluationSeed: number },
  source: string,
): RunRecord {
  const steps = evaluation?.perTaskLoss?.length;
  if (!steps) throw new ConcordError(`${source} has no per-task losses`, { field: source });
  const step = steps - 1;
  return {
    ...run,
    iterations: evaluation.iteration,
    step,
    backend: evaluation.backend,
    perTaskLoss: compact(evaluation.perTaskLoss[step]!),
    ...(evaluation.perTaskAccuracy ? { perTaskAccuracy: compact(evaluation.perTaskAccuracy[step]!) } : {}),
    ...(evaluation.perTaskGroup ? { perTaskGroup: [...evaluation.perTaskGroup], groupNames: [...(evaluation.groupNames ?? [])] } : {}),
  };
}

/** Checks a parsed record file, naming the file and the field that is wrong. */
export function checkRunRecord(value: unknown, file: string): RunRecord {
  const record = value as Partial<RunRecord> | null;
  const fail = (field: string, expected: string): never => {
    throw new ConcordError(`${file}: expected ${field} to be ${expected}`, { field: `${file}#${field}` });
  };
  if (record === null || typeof record !== "object") return fail("the record", "an object");
  for (const field of ["preset", "algorithm", "weighting", "backend"] as const) if (typeof record[field] !== "string") fail(field, "a string");
  for (const field of ["seed", "iterations", "evaluationSeed", "step"] as const) if (!Number.isInteger(record[field])) fail(field, "an integer");
  const tasks = record.perTaskLoss?.length ?? 0;
  if (!Array.isArray(record.perTaskLoss) || tasks < 2 || !record.perTaskLoss.every(Number.isFinite)) fail("perTaskLoss", "at least two finite numbers");
  if (record.perTaskAccuracy !== undefined && (!Array.isArray(record.perTaskAccuracy) || record.perTaskAccuracy.length !== tasks)) {
    fail("perTaskAccuracy", `${tasks} numbers, one per task`);
  }
  if (record.perTaskGroup !== undefined) {
    const names = record.groupNames ?? [];
    if (!Array.isArray(record.perTaskGroup) || record.perTaskGroup.length !== tasks) fail("perTaskGroup", `${tasks} group ids, one per task`);
    if (!record.perTaskGroup!.every((group) => Number.isInteger(group) && group >= 0 && group < names.length)) {
      fail("perTaskGroup", `group ids in [0, ${names.length}) (groupNames has ${names.length})`);
    }
  }
  return record as RunRecord;
}
