import { open, rename, rm } from "node:fs/promises";
import { ConcordError } from "@concord/core";

/**
 * Writes `data` to `path` atomically: a temp file beside it, fsync, rename over the old file. A crash
 * leaves either the old file or the new one; a failure removes the temp file and names the path.
 */
export async function writeAtomic(path: string, data: Uint8Array): Promise<void> {
  const temp = `${path}.tmp-${process.pid}`;
  try {
    const handle = await open(temp, "w", 0o644);
    try {
      await handle.writeFile(data);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temp, path);
  } catch (error) {
    await rm(temp, { force: true });
    throw new ConcordError(`cannot write file (${(error as NodeJS.ErrnoException).code ?? String(error)})`, { field: path, cause: error });
  }
}
