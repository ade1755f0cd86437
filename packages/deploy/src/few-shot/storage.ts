// What a few-shot classifier learned, as tf.io ModelArtifacts (so every tf.io handler can store it:
// IndexedDB, downloads, a Node folder): the examples, and the adapted state when there is one.
import * as tf from "@tensorflow/tfjs-core";
import { ConcordError, type Params } from "@concord/core";
import type { BatchNormStatistics } from "@concord/models";
import type { LoadedMetaModel } from "../load.js";

/** Value of the saved topology's `format`. */
export const CLASSIFIER_FORMAT = "concord-few-shot-classifier";
export const CLASSIFIER_FORMAT_VERSION = 1;

/** What adapt() learned: batch-norm statistics of the examples and the classifier on top. */
export interface AdaptedState {
  /** Class labels, in logit order. */
  readonly labels: readonly string[];
  readonly statistics: BatchNormStatistics | undefined;
  /** ProtoNet: the class prototypes [classes, D]. */
  readonly prototypes?: tf.Tensor2D;
  /** Proto-MAML: the fine-tuned parameters, body and new head. */
  readonly params?: Params;
}

export interface SavedClassifier {
  readonly examples: ReadonlyMap<string, readonly tf.Tensor3D[]>;
  readonly adapted: AdaptedState | undefined;
}

interface Topology {
  readonly format: typeof CLASSIFIER_FORMAT;
  readonly formatVersion: number;
  /** Identifies the export the state belongs to (its model spec and a checksum of its parameters). */
  readonly exportFingerprint: string;
  readonly labels: readonly string[];
  /** Class index (into labels) of every saved example, in order. */
  readonly exampleClasses: readonly number[];
  readonly adapted: {
    readonly labels: readonly string[];
    readonly blocks: number;
    readonly method: "prototypes" | "proto-maml";
    readonly params: readonly string[];
  } | null;
}

/** The classifier's examples and learned state as tf.io ModelArtifacts (weights: "examples", "adapted/…"). */
export async function toArtifacts(saved: SavedClassifier, loaded: LoadedMetaModel): Promise<tf.io.ModelArtifacts> {
  const labels = [...saved.examples.keys()];
  const tensors: { name: string; tensor: tf.Tensor }[] = [];
  const exampleClasses = labels.flatMap((label, k) => saved.examples.get(label)!.map(() => k));
  const owned: tf.Tensor[] = [];
  if (exampleClasses.length > 0) {
    const examples = tf.stack(labels.flatMap((label) => saved.examples.get(label)!));
    owned.push(examples);
    tensors.push({ name: "examples", tensor: examples });
  }
  const adapted = saved.adapted;
  if (adapted) {
    adapted.statistics?.mean.forEach((mean, b) => tensors.push({ name: `adapted/statistics/mean/${b}`, tensor: mean }));
    adapted.statistics?.variance.forEach((variance, b) => tensors.push({ name: `adapted/statistics/variance/${b}`, tensor: variance }));
    if (adapted.prototypes) tensors.push({ name: "adapted/prototypes", tensor: adapted.prototypes });
    for (const [name, tensor] of Object.entries(adapted.params ?? {})) tensors.push({ name: `adapted/params/${name}`, tensor });
  }
  try {
    const { data, specs } = await tf.io.encodeWeights(tensors);
    const topology: Topology = {
      format: CLASSIFIER_FORMAT,
      formatVersion: CLASSIFIER_FORMAT_VERSION,
      exportFingerprint: exportFingerprint(loaded),
      labels,
      exampleClasses,
      adapted: adapted
        ? {
            labels: adapted.labels,
            blocks: adapted.statistics?.mean.length ?? 0,
            method: adapted.prototypes ? "prototypes" : "proto-maml",
            params: Object.keys(adapted.params ?? {}),
          }
        : null,
    };
    return {
      modelTopology: topology as unknown as Record<string, unknown>,
      weightSpecs: specs,
      weightData: data,
      format: CLASSIFIER_FORMAT,
      generatedBy: "@concord/deploy",
    };
  } finally {
    tf.dispose(owned);
  }
}

/** Examples and state from artifacts written by toArtifacts, checked against `loaded`; errors name `label`. */
export function fromArtifacts(artifacts: tf.io.ModelArtifacts, loaded: LoadedMetaModel, label: string): SavedClassifier {
  const bad = (field: string, message: string) => new ConcordError(message, { field: `${label}: ${field}` });
  const topology = artifacts.modelTopology as Partial<Topology> | undefined;
  if (!topology || topology.format !== CLASSIFIER_FORMAT)
    throw bad("modelTopology.format", `expected "${CLASSIFIER_FORMAT}" (saved by FewShotClassifier.save), got ${JSON.stringify(topology?.format)}`);
  if (topology.formatVersion !== CLASSIFIER_FORMAT_VERSION)
    throw bad("modelTopology.formatVersion", `expected ${CLASSIFIER_FORMAT_VERSION}, got ${JSON.stringify(topology.formatVersion)}`);
  if (topology.exportFingerprint !== exportFingerprint(loaded)) {
    throw bad(
      "modelTopology.exportFingerprint",
      "expected state saved over this very export (its model or parameters differ); load it into a classifier over the export it was saved with",
    );
  }
  const labels = topology.labels ?? [];
  const exampleClasses = topology.exampleClasses ?? [];
  if (!Array.isArray(labels) || !Array.isArray(exampleClasses) || !exampleClasses.every((k) => Number.isInteger(k) && k >= 0 && k < labels.length)) {
    throw bad("modelTopology.labels", "expected labels and one class index per example");
  }
  const data = artifacts.weightData;
  const buffer = data === undefined ? new ArrayBuffer(0) : Array.isArray(data) ? tf.io.concatenateArrayBuffers(data) : data;
  let decoded: tf.NamedTensorMap;
  try {
    decoded = tf.io.decodeWeights(buffer, artifacts.weightSpecs ?? []);
  } catch (error) {
    throw new ConcordError(`cannot decode the saved weights (${(error as Error).message})`, { field: `${label}: weightData`, cause: error });
  }
  const take = (name: string): tf.Tensor => {
    const tensor = decoded[name];
    if (!tensor) throw bad("weightSpecs", `expected a weight named "${name}"`);
    delete decoded[name];
    return tensor;
  };
  try {
    const examples = new Map<string, tf.Tensor3D[]>(labels.map((name) => [name, []]));
    if (exampleClasses.length > 0) {
      const stacked = take("examples");
      const shape = loaded.spec.inputShape;
      if (stacked.rank !== 4 || stacked.shape[0] !== exampleClasses.length || stacked.shape.slice(1).join() !== shape.join()) {
        stacked.dispose();
        throw bad("examples", `expected [${exampleClasses.length}, ${shape.join(", ")}], got [${stacked.shape.join(", ")}]`);
      }
      tf.unstack(stacked).forEach((image, i) => examples.get(labels[exampleClasses[i]!]!)!.push(image as tf.Tensor3D));
      stacked.dispose();
    }
    const meta = topology.adapted;
    let adapted: AdaptedState | undefined;
    if (meta) {
      const blocks = Array.from({ length: meta.blocks }, (_, b) => b);
      const statistics =
        meta.blocks > 0
          ? { mean: blocks.map((b) => take(`adapted/statistics/mean/${b}`)), variance: blocks.map((b) => take(`adapted/statistics/variance/${b}`)) }
          : undefined;
      adapted =
        meta.method === "prototypes"
          ? { labels: meta.labels, statistics, prototypes: take("adapted/prototypes") as tf.Tensor2D }
          : { labels: meta.labels, statistics, params: Object.fromEntries(meta.params.map((name) => [name, take(`adapted/params/${name}`)])) };
    }
    return { examples, adapted };
  } finally {
    tf.dispose(Object.values(decoded));
  }
}

/** The export's model spec and an FNV-1a checksum of its parameters' bytes: equal exports, equal fingerprints. */
const fingerprints = new WeakMap<LoadedMetaModel, string>();
export function exportFingerprint(loaded: LoadedMetaModel): string {
  const known = fingerprints.get(loaded);
  if (known) return known;
  let hash = 0x811c9dc5;
  for (const name of Object.keys(loaded.params)) {
    const values = loaded.params[name]!.dataSync() as Float32Array;
    const bytes = new Uint8Array(values.buffer, values.byteOffset, values.byteLength);
    for (let i = 0; i < bytes.length; i++) hash = Math.imul(hash ^ bytes[i]!, 0x01000193) >>> 0;
  }
  const fingerprint = `${JSON.stringify(loaded.spec.model)}#${hash.toString(16)}`;
  fingerprints.set(loaded, fingerprint);
  return fingerprint;
}
