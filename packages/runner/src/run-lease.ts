// Fencing for run folders that more than one process may write over time (a queued run taken over by
// another worker after its first one lost the job's lock: SIGSTOP, GC pause, partition). Each writer
// holds an epoch; the folder's lease file names the current one; a writer checks it before every
// write and one whose epoch is no longer there writes nothing.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { ConcordError } from "@concord/core";
import { writeFileAtomicSync } from "./atomic-file.js";

/** The lease file inside a run folder. */
export const LEASE_FILE = "lease.json";

/** Who may write the run folder now. */
export interface RunLease {
  /** Unique per takeover and increasing (the queue hands them out); the writer holding it may write. */
  readonly epoch: number;
  readonly host: string;
  readonly pid: number;
  /** What holds it, e.g. the queue's job id. */
  readonly holder: string;
  /** ISO time the lease was taken. */
  readonly since: string;
}

/** A check made right before each write to a run folder; throws StaleWriter to stop the write. */
export type WriteFence = () => void;

/** A write refused because another writer took the run folder over. */
export class StaleWriter extends ConcordError {
  override readonly name = "StaleWriter";
}

/** Writes the lease atomically: from now on only the writer of `lease.epoch` may write the folder. */
export function writeLease(outDir: string, lease: RunLease): void {
  writeFileAtomicSync(join(outDir, LEASE_FILE), [`${JSON.stringify(lease)}\n`]);
}

/** The folder's lease, or undefined when it has none (or an unreadable one). */
export function readLease(outDir: string): RunLease | undefined {
  let text: string;
  try {
    text = readFileSync(join(outDir, LEASE_FILE), "utf8");
  } catch {
    return undefined;
  }
  try {
    const lease = JSON.parse(text) as Partial<RunLease>;
    return Number.isSafeInteger(lease.epoch) ? (lease as RunLease) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The fence of the writer holding `epoch`: passes while the folder's lease names that epoch, and
 * otherwise throws StaleWriter naming both epochs and the lease's holder. One small file read per
 * write (metrics lines included): microseconds against a meta-iteration.
 */
export function leaseFence(outDir: string, epoch: number): WriteFence {
  return () => {
    const lease = readLease(outDir);
    if (lease?.epoch === epoch) return;
    const current = lease ? `epoch ${lease.epoch} (${lease.holder} on ${lease.host}, pid ${lease.pid}, since ${lease.since})` : "no readable lease";
    throw new StaleWriter(
      `this writer holds epoch ${epoch} of the run folder, whose lease now names ${current}: another worker took the run over; nothing more is written by this one`,
      { field: outDir },
    );
  };
}
