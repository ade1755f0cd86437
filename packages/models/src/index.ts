export { MLP_ACTIVATIONS, MLP_INITS, mlp, type MlpActivation, type MlpInit, type MlpModel, type MlpOptions } from "./mlp.js";
export {
  type BatchNormStatistics,
  batchNormalize,
  convNet,
  type ConvNetBatchNorm,
  type ConvNetDownsample,
  type ConvNetHeadInit,
  type ConvNetModel,
  type ConvNetOptions,
  everyOtherPixel,
} from "./conv-net.js";
export { batchNormalizeBatched, convolve3x3Batched } from "./conv-net-batched.js";
export * from "./objectives.js";
export { modelConformanceChecks, type ConformanceCheck, type ModelConformanceOptions, type ModelSource, type ModelTargets } from "./conformance-checks.js";
export { classPrototypes, prototypeLogits } from "./prototypes.js";
export { modelDefinitions, objectiveDefinitions } from "./definitions.js";
