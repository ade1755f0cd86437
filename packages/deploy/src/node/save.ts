import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import { ConcordError } from "@concord/core";
import { type MetaModelArtifacts, MODEL_JSON } from "../format.js";
import { writeAtomic } from "./write-atomic.js";

/**
 * Writes an export into `dir` (created if needed): the shards first, model.json last, each through a
 * temp file in the same folder that is fsynced and renamed over the target. A reader therefore never
 * sees a model.json whose shards are missing or half written. Returns the paths written.
 */
export async function saveMetaModel(dir: string, artifacts: MetaModelArtifacts): Promise<string[]> {
  try {
    await mkdir(dir, { recursive: true });
  } catch (error) {
    throw new ConcordError(`cannot create the output folder (${(error as NodeJS.ErrnoException).code ?? String(error)})`, { field: dir, cause: error });
  }
  const written: string[] = [];
  for (const shard of artifacts.shards) {
    const path = join(dir, shard.path);
    await writeAtomic(path, shard.data);
    written.push(path);
  }
  const jsonPath = join(dir, MODEL_JSON);
  await writeAtomic(jsonPath, new TextEncoder().encode(`${JSON.stringify(artifacts.modelJson, null, 2)}\n`));
  written.push(jsonPath);
  return written;
}
