import { ConcordError } from "@concord/core";
import { MODEL_JSON } from "./format.js";
import { JSON_LIMIT, type MetaModelReader, SHARD_LIMIT, tooLarge } from "./reader.js";

/**
 * model.json and its shards among `files` (an <input type=file multiple>), matched by file name as
 * tf.io.browserFiles does: only the chosen files can be read. Sizes are checked on `File.size` before
 * a file is read.
 */
export function filesReader(files: ArrayLike<File>): MetaModelReader {
  const list = Array.from(files);
  const json = list.find((file) => file.name.endsWith(".json"));
  if (!json) throw new ConcordError(`expected a model.json among the files, got ${list.map((file) => file.name).join(", ") || "none"}`, { field: MODEL_JSON });
  const locateShard = (path: string) => path.split("/").pop()!;
  return {
    label: json.name,
    readText: async (maxBytes) => {
      if (json.size > maxBytes) throw new ConcordError(tooLarge(maxBytes, JSON_LIMIT, `the file has ${json.size}`), { field: json.name });
      return json.text();
    },
    locateShard,
    readShard: async (path, maxBytes) => {
      const name = locateShard(path);
      const file = list.find((candidate) => candidate.name === name);
      if (!file) throw new ConcordError("weight shard missing from the selected files", { field: name });
      if (file.size > maxBytes) throw new ConcordError(tooLarge(maxBytes, SHARD_LIMIT, `the file has ${file.size}`), { field: name });
      return new Uint8Array(await file.arrayBuffer());
    },
  };
}
