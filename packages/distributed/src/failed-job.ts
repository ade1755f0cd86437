// The coordinator's report of a job that failed for good: which one, how often it was started, how
// often the worker holding it died (a poison job: OOM-killed, crashed), and the last error.
import type { Job } from "bullmq";

/** The attempt limit when none is given: small, so a job that kills its worker kills few of them. */
export const DEFAULT_MAX_ATTEMPTS = 3;

/**
 * One line: `job <id> (<name>) failed for good: its worker died N times holding it (…), M attempts
 * ended in an error; last error: …`. Deaths are BullMQ's stalled count (a stall past the limit is
 * then failed by the next worker, which counts as one ended attempt with "job stalled more than
 * allowable limit").
 */
export function describeFailedJob(job: Pick<Job, "id" | "name" | "attemptsMade" | "stalledCounter" | "failedReason"> | undefined, id: string): string {
  if (!job) return `job ${id} failed (its record is gone from Redis)`;
  const deaths = job.stalledCounter ?? 0;
  const errors = job.attemptsMade ?? 0;
  const died = `its worker died ${deaths} time${deaths === 1 ? "" : "s"} holding it${deaths > 0 ? " (killed: out of memory? crashed? frozen past its lock?)" : ""}`;
  return `job ${id} (${job.name}) failed for good: ${died}, ${errors} attempt${errors === 1 ? "" : "s"} ended in an error; last error: ${job.failedReason || "none recorded"}`;
}
