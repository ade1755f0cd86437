import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import * as tf from "@tensorflow/tfjs-core";
import { ConcordError, type OuterOptimizerState, type Params, type RngState, type WeightingState } from "@concord/core";
import { type AtomicWriteOptions, writeFileAtomicSync } from "./atomic-file.js";
import { buildFingerprint } from "./build-fingerprint.js";

/** File name of a run's checkpoint inside its output folder. */
export const CHECKPOINT_FILE = "checkpoint.ckpt";
const FORMAT = "concord-checkpoint";
const VERSION = 1;

/** Everything needed to continue a run exactly. */
export interface CheckpointData {
  /** Iterations completed. */
  readonly iteration: number;
  readonly params: Params;
  readonly optimizerState: OuterOptimizerState;
  readonly taskRngState: RngState;
  /** The run's config in JSON form (used to refuse a mismatching --resume). */
  readonly config: unknown;
  /** Bytes of metrics.jsonl that belong to iterations ≤ `iteration`. */
  readonly metricsOffset: number;
  /** Cumulative count of weighting fallbacks up to `iteration`. */
  readonly fallbacks: number;
  /** Backend the run trains on (a resumed run must use the same one to be bit-identical). */
  readonly backend: string;
  /** Training wall time so far, across resumes. */
  readonly elapsedSeconds: number;
  /** The weighting scheme's state, for stateful schemes (TR-MAML); absent for stateless ones. */
  readonly weightingState?: WeightingState;
}

interface CheckpointHeader {
  readonly iteration: number;
  readonly taskRngState: RngState;
  readonly optimizer: { readonly name: string; readonly step: number };
  readonly config: unknown;
  readonly metricsOffset: number;
  readonly fallbacks: number;
  readonly backend: string;
  readonly elapsedSeconds: number;
  readonly weightingState?: WeightingState;
  readonly createdAt: string;
  /** buildFingerprint() of the code that wrote it (absent in checkpoints written before it existed). */
  readonly build?: string;
  /** tfjs weights-manifest entries of the weight bytes that follow (tf.io.encodeWeights layout). */
  readonly weightSpecs: tf.io.WeightsManifestEntry[];
}

const PARAM_PREFIX = "params/";
const SLOT_PREFIX = "optimizer/";

/**
 * Writes a checkpoint atomically: temp file in the same folder, fsync, rename over the old one,
 * fsync the folder. A crash at any point leaves either the old or the new checkpoint, never a mix.
 *
 * Layout (one file): line 1 `{"format":"concord-checkpoint","version":1,"sha256":…}`, line 2 a JSON
 * header (iteration, RNG and optimizer state, config, metrics offset, tfjs weight specs), then the
 * weight bytes exactly as `tf.io.encodeWeights` lays them out. The SHA-256 covers everything after
 * line 1, so truncation or corruption is detected on load.
 */
export function saveCheckpoint(path: string, data: CheckpointData, options: AtomicWriteOptions = {}): void {
  const named: { name: string; tensor: tf.Tensor }[] = [
    ...Object.entries(data.params).map(([name, tensor]) => ({ name: PARAM_PREFIX + name, tensor })),
    ...Object.entries(data.optimizerState.slots).map(([name, tensor]) => ({ name: SLOT_PREFIX + name, tensor })),
  ];
  const { bytes, specs } = encodeWeightsSync(named);
  const header: CheckpointHeader = {
    iteration: data.iteration,
    taskRngState: data.taskRngState,
    optimizer: { name: data.optimizerState.name, step: data.optimizerState.step },
    config: data.config,
    metricsOffset: data.metricsOffset,
    fallbacks: data.fallbacks,
    backend: data.backend,
    elapsedSeconds: data.elapsedSeconds,
    ...(data.weightingState ? { weightingState: data.weightingState } : {}),
    createdAt: new Date().toISOString(),
    build: buildFingerprint(),
    weightSpecs: specs,
  };
  const body = Buffer.concat([Buffer.from(`${JSON.stringify(header)}\n`, "utf8"), bytes]);
  const sha256 = createHash("sha256").update(body).digest("hex");
  const first = Buffer.from(`${JSON.stringify({ format: FORMAT, version: VERSION, sha256 })}\n`, "utf8");
  writeFileAtomicSync(path, [first, body], options);
}

export interface LoadedCheckpoint extends CheckpointData {
  readonly createdAt: string;
  /** The build that wrote it (buildFingerprint()); undefined for checkpoints older than the field. */
  readonly build: string | undefined;
}

/**
 * Reads and verifies a checkpoint. Tensors in `params` and `optimizerState.slots` belong to the caller
 * (they are made on the current tf backend, so pick it first: see `checkpointBackend`).
 * A missing, truncated or corrupted file gets a ConcordError naming the file.
 */
export function loadCheckpoint(path: string): LoadedCheckpoint {
  const { header, weightBytes } = readVerified(path);
  const buffer = weightBytes.buffer.slice(weightBytes.byteOffset, weightBytes.byteOffset + weightBytes.byteLength) as ArrayBuffer;
  const tensors = tf.io.decodeWeights(buffer, header.weightSpecs);
  const params: Record<string, tf.Tensor> = {};
  const slots: Record<string, tf.Tensor> = {};
  // Specs keep the saved order, which is the parameters' flattening order.
  for (const spec of header.weightSpecs) {
    const tensor = tensors[spec.name]!;
    if (spec.name.startsWith(PARAM_PREFIX)) params[spec.name.slice(PARAM_PREFIX.length)] = tensor;
    else slots[spec.name.slice(SLOT_PREFIX.length)] = tensor;
  }
  return {
    iteration: header.iteration,
    params,
    optimizerState: { name: header.optimizer.name, step: header.optimizer.step, slots },
    taskRngState: header.taskRngState,
    config: header.config,
    metricsOffset: header.metricsOffset,
    fallbacks: header.fallbacks,
    backend: recordedEngine(header),
    elapsedSeconds: header.elapsedSeconds,
    ...(header.weightingState ? { weightingState: header.weightingState } : {}),
    createdAt: header.createdAt,
    build: header.build,
  };
}

/** Frees the tensors of a loaded checkpoint. */
export function disposeCheckpoint(checkpoint: Pick<CheckpointData, "params" | "optimizerState">): void {
  tf.dispose([...Object.values(checkpoint.params), ...Object.values(checkpoint.optimizerState.slots)]);
}

/**
 * The bytes and specs `tf.io.encodeWeights` produces (little-endian values concatenated in order,
 * one WeightsManifestEntry each), computed synchronously so a checkpoint can be written from
 * inside the synchronous training loop.
 */
export function encodeWeightsSync(tensors: readonly { name: string; tensor: tf.Tensor }[]): { bytes: Buffer; specs: tf.io.WeightsManifestEntry[] } {
  const specs: tf.io.WeightsManifestEntry[] = [];
  const chunks: Buffer[] = [];
  for (const { name, tensor } of tensors) {
    if (tensor.dtype !== "float32" && tensor.dtype !== "int32") {
      throw new ConcordError(`expected a float32 or int32 tensor, got ${tensor.dtype}`, { field: name });
    }
    const values = tensor.dataSync() as Float32Array | Int32Array;
    chunks.push(Buffer.from(values.buffer, values.byteOffset, values.byteLength));
    specs.push({ name, shape: [...tensor.shape], dtype: tensor.dtype });
  }
  return { bytes: Buffer.concat(chunks), specs };
}

/** The backend a checkpoint was trained on, read without making tensors (so it can be set before loading). */
export function checkpointBackend(path: string): string {
  return recordedEngine(readVerified(path).header);
}

/**
 * The engine a checkpoint was trained on. Before useBackend() named the native engine, native runs
 * recorded tf's backend name, "wasm"; their config still says "native" (which never ran on anything else).
 */
function recordedEngine(header: Pick<CheckpointHeader, "backend" | "config">): string {
  const configured = (header.config as { backend?: unknown } | null)?.backend;
  return header.backend === "wasm" && configured === "native" ? "native" : header.backend;
}

/** The build fingerprint a checkpoint was written by (undefined when older than the field), read without making tensors. */
export function checkpointBuild(path: string): string | undefined {
  return readVerified(path).header.build;
}

/** The checkpoint's metadata and weight bytes, after checking format, version and checksum. */
function readVerified(path: string): { header: CheckpointHeader; weightBytes: Buffer } {
  let file: Buffer;
  try {
    file = readFileSync(path);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new ConcordError(code === "ENOENT" ? "checkpoint file not found" : `cannot read checkpoint (${code ?? String(error)})`, {
      field: path,
      cause: error,
    });
  }
  const corrupt = (what: string) => new ConcordError(`expected a Concord checkpoint, but the file is truncated or corrupted (${what})`, { field: path });
  const firstEnd = file.indexOf(0x0a);
  if (firstEnd < 0) throw corrupt("no header line");
  let first: { format?: unknown; version?: unknown; sha256?: unknown };
  try {
    first = JSON.parse(file.subarray(0, firstEnd).toString("utf8"));
  } catch {
    throw corrupt("unreadable header line");
  }
  if (first.format !== FORMAT) throw corrupt(`format is ${JSON.stringify(first.format)}, expected "${FORMAT}"`);
  if (first.version !== VERSION) throw new ConcordError(`expected checkpoint version ${VERSION}, got ${JSON.stringify(first.version)}`, { field: path });
  const body = file.subarray(firstEnd + 1);
  const actual = createHash("sha256").update(body).digest("hex");
  if (actual !== first.sha256) throw corrupt("checksum mismatch");

  const headerEnd = body.indexOf(0x0a);
  if (headerEnd < 0) throw corrupt("no metadata line");
  const header = JSON.parse(body.subarray(0, headerEnd).toString("utf8")) as CheckpointHeader;
  return { header, weightBytes: body.subarray(headerEnd + 1) };
}
