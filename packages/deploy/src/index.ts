export { type ArtifactOptions, metaModelArtifacts } from "./artifacts.js";
export { DEFAULT_PLUGINS, type Factory, type MetaModelFactories, pluginLookup } from "./factories.js";
export {
  type ConcordSection,
  DEFAULT_SHARD_BYTES,
  META_MODEL_FORMAT,
  META_MODEL_FORMAT_VERSION,
  type MetaModelArtifacts,
  type MetaModelJson,
  type MetaModelSpec,
  MODEL_JSON,
  type NamedSpec,
  type Preprocessing,
} from "./format.js";
export { DEFAULT_LOAD_LIMITS, type LoadLimits } from "./limits.js";
export {
  filesReader,
  type LoadedMetaModel,
  loadFromReader,
  loadMetaModel,
  type MetaModelLoadOptions,
  type MetaModelReader,
  type MetaModelSource,
  parseModelJson,
  urlReader,
} from "./load.js";
export type { CheckedGroup, CheckedModelJson } from "./model-json.js";
export type { UrlReaderOptions } from "./url-reader.js";
export {
  type AdaptProgress,
  FewShotClassifier,
  type FewShotClassifierOptions,
  fewShotClassifier,
  type Prediction,
} from "./few-shot/classifier.js";
export { type CanvasLike, type ClassifierImage, type DrawableImage, imageToInput, type RgbaImage } from "./few-shot/image-input.js";
