import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { ConcordError } from "@concord/core";
import { MODEL_JSON } from "../format.js";
import type { MetaModelReader } from "../load.js";

/** Reads an export folder (model.json and the shards it lists) from the file system. */
export function folderReader(dir: string): MetaModelReader {
  const read = async (path: string): Promise<Buffer> => {
    try {
      return await readFile(path);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      throw new ConcordError(code === "ENOENT" ? "file not found" : `cannot read file (${code ?? String(error)})`, { field: path, cause: error });
    }
  };
  const jsonPath = join(dir, MODEL_JSON);
  return {
    label: jsonPath,
    readText: async () => (await read(jsonPath)).toString("utf8"),
    readShard: async (path) => {
      if (path.includes("..") || path.startsWith("/")) throw new ConcordError("expected a shard file name inside the export folder", { field: path });
      const bytes = await read(join(dir, path));
      return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    },
  };
}
