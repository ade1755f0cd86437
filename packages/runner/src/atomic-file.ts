// Crash-safe file writes: a reader sees the old file or the new one, never half of one.
import { closeSync, fsyncSync, openSync, readdirSync, renameSync, rmSync, writeSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { ConcordError } from "@concord/core";

/** Writes `chunks` to `path` via a temp file in the same folder: write, fsync, rename, fsync folder. */
export function writeFileAtomicSync(path: string, chunks: readonly (Buffer | string)[]): void {
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
    renameSync(temp, path);
  } catch (error) {
    if (fd !== undefined) closeSync(fd);
    rmSync(temp, { force: true });
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

function tempPathFor(path: string): string {
  return join(dirname(path), `.${basename(path)}.tmp-${process.pid}`);
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
