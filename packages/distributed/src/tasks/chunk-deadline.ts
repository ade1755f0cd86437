// How long a worker may compute one chunk before it gives up on its compute thread. A hung computation
// (a plug-in in an endless loop, a native call that never returns) would otherwise hold its chunk for
// ever: the worker's main thread keeps renewing the job's lock, so BullMQ never hands it to another.

/** The shortest deadline a chunk may carry (and `--chunk-deadline` may set). */
export const MIN_CHUNK_DEADLINE_MS = 1000;
/** The longest: a week. */
export const MAX_CHUNK_DEADLINE_MS = 7 * 24 * 3600 * 1000;
/** Before any step of the session has finished: a worker's first chunk also sets up its backend, plug-ins and model. */
export const FIRST_STEP_DEADLINE_MS = 10 * 60 * 1000;
/** Derived deadlines are at least this (a loaded machine may be several times slower than the last step). */
export const MIN_DERIVED_DEADLINE_MS = 60 * 1000;
/** A derived deadline is this many times the slowest chunk of the previous step. */
export const DEADLINE_FACTOR = 20;

/**
 * The deadline of the next step's chunks: `explicitMs` when given (`--chunk-deadline`), else derived
 * from the work as measured: clamp(DEADLINE_FACTOR × the slowest chunk turnaround of the previous step
 * (queued to result, so waiting for a free worker is included), MIN_DERIVED_DEADLINE_MS,
 * MAX_CHUNK_DEADLINE_MS), and FIRST_STEP_DEADLINE_MS before any step has finished.
 */
export function chunkDeadlineMs(explicitMs: number | undefined, previousSlowestMs: number | undefined): number {
  if (explicitMs !== undefined) return explicitMs;
  if (previousSlowestMs === undefined) return FIRST_STEP_DEADLINE_MS;
  return Math.min(MAX_CHUNK_DEADLINE_MS, Math.max(MIN_DERIVED_DEADLINE_MS, Math.ceil(DEADLINE_FACTOR * previousSlowestMs)));
}
