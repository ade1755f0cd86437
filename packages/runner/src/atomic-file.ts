// Crash-safe file writes: a reader sees the old file or the new one, never half of one.
import { randomBytes } from "node:crypto";
import { closeSync, fsyncSync, openSync, readdirSync, renameSync, rmSync, writeSync } from "node:fs";
import { hostname } from "node:os";
import { basename, dirname, join } from "node:path";
import { ConcordError } from "@concord/core";

export interface AtomicWriteOptions {
  /**
   * Called after the temp file is complete, right before the rename that publishes it (a run folder's
   * fence): throwing stops the write, and the temp file is removed.
   */
  readonly beforeRename?: () => void;
}

/** Writes `chunks` to `path` via a temp file in the same folder: write, fsync, rename, fsync folder. */
export function writeFileAtomicSync(path: string, chunks: readonly (Buffer | string)[], options: AtomicWriteOptions = {}): void {
  const temp = tempPathFor(path);
  let fd: number | undefined;
  try {
    fd = openSync(temp, "w", 0o644);
    for (const chunk of chunks) {
      const buffer = typeof chunk === "string" ? Buffer.from(chunk, "utf8") : chunk;
      let written = 0;
      while (written < buffer.length) written += writeSync(fd, buffer, written, buffer.length - written);
    }
    fsyncSync(fd);
    closeSync(fd);
    fd = undefined;
    options.beforeRename?.();
    renameSync(temp, path);
  } catch (error) {
    if (fd !== undefined) closeSync(fd);
    rmSync(temp, { force: true });
    if (error instanceof ConcordError) throw error;
    throw new ConcordError(`cannot write file (${(error as NodeJS.ErrnoException).code ?? String(error)})`, { field: path, cause: error });
  }
  fsyncDirectory(dirname(path));
}

/** Removes temp files a killed process may have left beside `path` (never the real file). */
export function removeStaleTempFiles(path: string): string[] {
  const folder = dirname(path);
  const prefix = `.${basename(path)}.tmp-`;
  let names: string[];
  try {
    names = readdirSync(folder);
  } catch {
    return [];
  }
  const removed = names.filter((name) => name.startsWith(prefix));
  for (const name of removed) rmSync(join(folder, name), { force: true });
  return removed;
}

/**
 * `.<name>.tmp-<host>-<pid>-<random>`: unique across the processes of every host sharing the folder
 * (two hosts may run the same pid), so one writer's temp file is never another's.
 */
function tempPathFor(path: string): string {
  const host =
    hostname()
      .replace(/[^A-Za-z0-9_.-]/g, "_")
      .slice(0, 64) || "host";
  return join(dirname(path), `.${basename(path)}.tmp-${host}-${process.pid}-${randomBytes(4).toString("hex")}`);
}

function fsyncDirectory(folder: string): void {
  try {
    const fd = openSync(folder, "r");
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  } catch {
    // Some file systems refuse fsync on a directory; the rename itself is still atomic.
  }
}
