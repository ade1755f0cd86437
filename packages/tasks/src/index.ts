export {
  sinusoid,
  sinusoidCurve,
  type NumberRange,
  type ResolvedSinusoidOptions,
  type SinusoidCorruption,
  type SinusoidOptions,
  type SinusoidSampler,
  type SinusoidTaskInfo,
} from "./sinusoid.js";
export { fewShot, planEpisode, type EpisodeImage, type EpisodePlan, type FewShotOptions } from "./few-shot.js";
export {
  packedImageDataset,
  readImage,
  selectClasses,
  withRotations,
  type ImageDataset,
  type ImageShape,
  type PackedImagesInput,
  type QuarterTurns,
} from "./image-dataset.js";
export { SINUSOID_PRESETS, sinusoidFamily, sinusoidOptionsSchema } from "./sinusoid-family.js";
export { type SinusoidFit, type SinusoidFitOptions, sinusoidFitPanel, sinusoidFits } from "./sinusoid-fits.js";
export { taskSamplerConformanceChecks, type ConformanceCheck, type TaskSamplerConformanceOptions, type TaskSamplerSource } from "./conformance-checks.js";
export { resizeArea } from "./resize.js";
export { OMNIGLOT_PREPROCESSING } from "./omniglot-preprocessing.js";
