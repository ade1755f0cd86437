import { readFile, stat } from "node:fs/promises";
import { isAbsolute, join, resolve, sep } from "node:path";
import { ConcordError } from "@concord/core";
import { MODEL_JSON } from "../format.js";
import { JSON_LIMIT, type MetaModelReader, SHARD_LIMIT, tooLarge } from "../reader.js";

const OUTSIDE = "expected a shard file name inside the export folder (a relative path without '..', '\\' or a scheme)";

/**
 * Reads an export folder (model.json and the shards it lists) from the file system. A shard path must
 * stay inside the folder: absolute paths, '..' segments, backslashes, drive letters and URL schemes
 * are refused. Each file must be a regular file no larger than allowed, checked before it is read.
 */
export function folderReader(dir: string): MetaModelReader {
  const root = resolve(dir);
  const jsonPath = join(dir, MODEL_JSON);
  const locateShard = (path: string): string => {
    const segments = path.split("/");
    const refused = path === "" || isAbsolute(path) || /^[A-Za-z][A-Za-z0-9+.-]*:|[\\\0]/.test(path) || segments.includes("..");
    const location = resolve(root, path);
    if (refused || !location.startsWith(root + sep)) throw new ConcordError(OUTSIDE);
    return location;
  };
  return {
    label: jsonPath,
    readText: async (maxBytes) => (await readBounded(jsonPath, maxBytes, JSON_LIMIT)).toString("utf8"),
    locateShard,
    readShard: async (path, maxBytes) => {
      let location: string;
      try {
        location = locateShard(path);
      } catch (error) {
        throw new ConcordError((error as Error).message, { field: path, cause: error });
      }
      // Name the shard as the manifest joins it onto the folder (what a user looks for).
      const bytes = await readBounded(location, maxBytes, SHARD_LIMIT, join(dir, path));
      return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    },
  };
}

/** A regular file of at most `maxBytes` bytes, checked before reading (a FIFO or device would never end). */
async function readBounded(path: string, maxBytes: number, why: string, label = path): Promise<Buffer> {
  const fail = (error: unknown) => {
    const code = (error as NodeJS.ErrnoException).code;
    return new ConcordError(code === "ENOENT" ? "file not found" : `cannot read file (${code ?? String(error)})`, { field: label, cause: error });
  };
  let size: number;
  try {
    const info = await stat(path);
    if (!info.isFile()) throw new ConcordError("expected a file, got something that is not a regular file", { field: label });
    size = info.size;
  } catch (error) {
    throw error instanceof ConcordError ? error : fail(error);
  }
  if (size > maxBytes) throw new ConcordError(tooLarge(maxBytes, why, `the file has ${size}`), { field: label });
  let bytes: Buffer;
  try {
    bytes = await readFile(path);
  } catch (error) {
    throw fail(error);
  }
  // It may have grown since stat.
  if (bytes.byteLength > maxBytes) throw new ConcordError(tooLarge(maxBytes, why, `the file has ${bytes.byteLength}`), { field: label });
  return bytes;
}
