import type * as tf from "@tensorflow/tfjs-core";
import { ConcordError, expect, expectInteger, type Params } from "@concord/core";
import { DEFAULT_SHARD_BYTES, META_MODEL_FORMAT, META_MODEL_FORMAT_VERSION, type MetaModelArtifacts, type MetaModelSpec } from "./format.js";
import { findMachineLocalPath } from "./portable.js";

export interface ArtifactOptions {
  /** Largest shard in bytes. Default 4 MiB. */
  readonly shardBytes?: number;
}

/**
 * The meta-learned initialisation `params` in TensorFlow.js's own format: model.json with one weights
 * group whose `weights` list every parameter (in the params' key order, which is Concord's flattening
 * order) and whose `paths` are `group1-shardXofY.bin`, the little-endian float32 bytes concatenated and
 * cut into shards of at most `shardBytes`, exactly as tf.io.loadWeights reads them. `spec` goes into
 * the `concord` section. The caller keeps ownership of `params`.
 *
 * An export is published, so `spec` may not carry a machine-local path (an absolute or home path, a
 * UNC share, a file: URL; see portable.ts) in any key or string: a ConcordError names the field.
 * Record what a run was, not where it ran (`concord export` keeps an allow-list of the config).
 */
export function metaModelArtifacts(params: Params, spec: MetaModelSpec, options: ArtifactOptions = {}): MetaModelArtifacts {
  const shardBytes = options.shardBytes ?? DEFAULT_SHARD_BYTES;
  expectInteger(shardBytes, "shardBytes", 4);
  expect(shardBytes % 4 === 0, "shardBytes", `expected a multiple of 4, got ${shardBytes}`);
  expectInteger(spec.innerSteps, "innerSteps", 0);
  const local = findMachineLocalPath(spec, "spec");
  if (local) {
    throw new ConcordError("expected no machine-local path in an export (it is published with the model); leave this field out of the spec", { field: local });
  }
  const names = Object.keys(params);
  expect(names.length > 0, "params", "expected at least one parameter");
  const weights: tf.io.WeightsManifestEntry[] = [];
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (const name of names) {
    const tensor = params[name]!;
    if (tensor.dtype !== "float32") throw new ConcordError(`expected a float32 tensor, got ${tensor.dtype}`, { field: `params.${name}` });
    const values = tensor.dataSync() as Float32Array;
    // Copy: dataSync may return the backend's own buffer.
    chunks.push(new Uint8Array(values.buffer.slice(values.byteOffset, values.byteOffset + values.byteLength)));
    total += values.byteLength;
    weights.push({ name, shape: [...tensor.shape], dtype: "float32" });
  }
  const bytes = new Uint8Array(total);
  let offset = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, offset);
    offset += chunk.byteLength;
  }
  const shardCount = Math.max(1, Math.ceil(total / shardBytes));
  const shards = Array.from({ length: shardCount }, (_, i) => ({
    path: `group1-shard${i + 1}of${shardCount}.bin`,
    data: bytes.slice(i * shardBytes, Math.min(total, (i + 1) * shardBytes)),
  }));
  return {
    modelJson: {
      format: META_MODEL_FORMAT,
      generatedBy: "@concord/deploy",
      modelTopology: { format: META_MODEL_FORMAT, model: spec.model.name },
      weightsManifest: [{ paths: shards.map((shard) => shard.path), weights }],
      concord: { formatVersion: META_MODEL_FORMAT_VERSION, ...spec },
    },
    shards,
  };
}
