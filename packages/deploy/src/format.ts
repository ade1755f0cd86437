import type * as tf from "@tensorflow/tfjs-core";
import type { InputPreprocessing } from "@concord/core";

/** Value of model.json's `format` field: a Concord meta-model export. */
export const META_MODEL_FORMAT = "concord-meta-model";
/** Version of the `concord` section; a loader refuses any other. */
export const META_MODEL_FORMAT_VERSION = 1;
/** Largest `.bin` shard written (tfjs's converter uses the same 4 MiB). */
export const DEFAULT_SHARD_BYTES = 4 * 1024 * 1024;
/** File name of the manifest inside an export folder. */
export const MODEL_JSON = "model.json";

/** A plug-in by name with its options, e.g. { name: "sgd", options: { lr: 0.1 } }. */
export interface NamedSpec {
  readonly name: string;
  readonly options: Readonly<Record<string, unknown>>;
}

/** How the training inputs were made from raw data (declared by the task family, e.g. @concord/tasks' OMNIGLOT_PREPROCESSING). */
export type Preprocessing = InputPreprocessing;

/** Everything adaptation needs besides the weights; the `concord` section of model.json minus its version. */
export interface MetaModelSpec {
  /** The model factory and its options (e.g. conv-net {ways: 5, …}); the weights manifest holds its parameters. */
  readonly model: NamedSpec;
  readonly objective: NamedSpec;
  readonly innerOptimizer: NamedSpec;
  /** Inner steps to take on a new task's support set. */
  readonly innerSteps: number;
  /** Shape of one input example, e.g. [28, 28, 1] or [1]. */
  readonly inputShape: readonly number[];
  /** Number of classes for classifiers (N of N-way); null for regression. */
  readonly labelCount: number | null;
  readonly preprocessing: Preprocessing;
  /** The config the model was trained with and how far it got (free-form JSON), or null. */
  readonly training: Readonly<Record<string, unknown>> | null;
  /** The held-out evaluation of the exported parameters, when it is known; else null. */
  readonly evaluation: Readonly<Record<string, unknown>> | null;
}

/** The `concord` section of model.json. */
export interface ConcordSection extends MetaModelSpec {
  readonly formatVersion: number;
}

/**
 * model.json of an export. `modelTopology` is a small marker object (not a Keras topology: Concord
 * models are functions of explicit parameters) so that tf.io handlers that insist on a topology,
 * such as tf.io.browserFiles, accept the file; `weightsManifest` is tf.io's own.
 */
export interface MetaModelJson {
  readonly format: typeof META_MODEL_FORMAT;
  readonly generatedBy: string;
  readonly modelTopology: { readonly format: typeof META_MODEL_FORMAT; readonly model: string };
  readonly weightsManifest: tf.io.WeightsManifestConfig;
  readonly concord: ConcordSection;
}

/** An export in memory: model.json plus its shards, by file name. */
export interface MetaModelArtifacts {
  readonly modelJson: MetaModelJson;
  readonly shards: readonly { readonly path: string; readonly data: Uint8Array }[];
}
