export { sinusoid, sinusoidCurve, type NumberRange, type ResolvedSinusoidOptions, type SinusoidCorruption, type SinusoidOptions, type SinusoidSampler, type SinusoidTaskInfo } from "./sinusoid.js";
export { fewShot, planEpisode, type EpisodeImage, type EpisodePlan, type FewShotOptions } from "./few-shot.js";
export { packedImageDataset, readImage, selectClasses, withRotations, type ImageDataset, type ImageShape, type PackedImagesInput, type QuarterTurns } from "./image-dataset.js";
export { resizeArea } from "./resize.js";
