// Node side of the few-shot classifier: export folders by path, and a tf.io handler for a folder.
import { mkdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import type * as tf from "@tensorflow/tfjs-core";
import { ConcordError } from "@concord/core";
import { FewShotClassifier, type FewShotClassifierOptions } from "../few-shot/classifier.js";
import { type LoadedMetaModel, loadFromReader, loadMetaModel, type MetaModelSource } from "../load.js";
import { folderReader } from "./folder-reader.js";
import { writeAtomic } from "./write-atomic.js";

/** File names inside a folder written by folderHandler. */
export const CLASSIFIER_JSON = "classifier.json";
export const CLASSIFIER_WEIGHTS = "classifier.weights.bin";

/**
 * fewShotClassifier of the main entry, plus folder paths: a string that is not an http(s), data or
 * blob URL is read as an export folder (or its model.json) on the file system.
 */
export async function fewShotClassifier(source: MetaModelSource | LoadedMetaModel, options: FewShotClassifierOptions = {}): Promise<FewShotClassifier> {
  const factories = options.factories ?? {};
  if (typeof source === "string" && !/^(https?|data|blob):/i.test(source)) {
    const dir = source.endsWith(".json") ? source.slice(0, source.lastIndexOf("/") + 1) || "." : source;
    return FewShotClassifier.fromLoaded(await loadFromReader(folderReader(dir), factories), options);
  }
  const loaded = isLoaded(source) ? source : await loadMetaModel(source as MetaModelSource, factories);
  return FewShotClassifier.fromLoaded(loaded, options);
}

function isLoaded(source: unknown): source is LoadedMetaModel {
  return source !== null && typeof source === "object" && "params" in source && "spec" in source && "model" in source;
}

/**
 * A tf.io IOHandler over a folder: save() writes classifier.weights.bin, then classifier.json (each
 * through a temp file renamed over the target, so a reader never sees a half-written state); load()
 * reads them back. For FewShotClassifier.save / load in Node.
 */
export function folderHandler(dir: string): tf.io.IOHandler {
  const jsonPath = join(dir, CLASSIFIER_JSON);
  const weightsPath = join(dir, CLASSIFIER_WEIGHTS);
  return {
    async save(artifacts) {
      const data = artifacts.weightData;
      const bytes = data === undefined ? new Uint8Array(0) : new Uint8Array(Array.isArray(data) ? concat(data) : data);
      const { weightData: _weights, weightSpecs, ...rest } = artifacts;
      const json = { ...rest, weightsManifest: [{ paths: [CLASSIFIER_WEIGHTS], weights: weightSpecs ?? [] }] };
      try {
        await mkdir(dir, { recursive: true });
      } catch (error) {
        throw new ConcordError(`cannot create the folder (${(error as NodeJS.ErrnoException).code ?? String(error)})`, { field: dir, cause: error });
      }
      await writeAtomic(weightsPath, bytes);
      await writeAtomic(jsonPath, new TextEncoder().encode(`${JSON.stringify(json, null, 2)}\n`));
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: "JSON", weightDataBytes: bytes.byteLength } };
    },
    async load() {
      const read = async (path: string) => {
        try {
          return await readFile(path);
        } catch (error) {
          const code = (error as NodeJS.ErrnoException).code;
          throw new ConcordError(code === "ENOENT" ? "file not found" : `cannot read file (${code ?? String(error)})`, { field: path, cause: error });
        }
      };
      let json: { weightsManifest?: { weights?: tf.io.WeightsManifestEntry[] }[] } & Record<string, unknown>;
      try {
        json = JSON.parse((await read(jsonPath)).toString("utf8"));
      } catch (error) {
        if (error instanceof ConcordError) throw error;
        throw new ConcordError(`expected valid JSON (${(error as Error).message})`, { field: jsonPath, cause: error });
      }
      const bytes = await read(weightsPath);
      const { weightsManifest, ...rest } = json;
      return {
        ...(rest as tf.io.ModelArtifacts),
        weightSpecs: weightsManifest?.[0]?.weights ?? [],
        weightData: bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength),
      };
    },
  };
}

function concat(buffers: ArrayBuffer[]): ArrayBuffer {
  const total = buffers.reduce((sum, buffer) => sum + buffer.byteLength, 0);
  const out = new Uint8Array(total);
  let offset = 0;
  for (const buffer of buffers) {
    out.set(new Uint8Array(buffer), offset);
    offset += buffer.byteLength;
  }
  return out.buffer;
}
