// Contracts only: nothing here registers or patches anything in TensorFlow.js (see @concord/backend).

export { checkWeights } from "./check-weights.js";
export { relativeError, tensorGrowth } from "./conformance-support.js";
export { ConcordError, expect, expectInteger, expectNumber } from "./errors.js";
export {
  ADAM_UPDATE_KERNEL,
  type AdamUpdateAttrs,
  BATCH_NORM_GRAD_KERNEL,
  BATCH_NORM_KERNEL,
  type BatchNormAttrs,
  COL2IM_3X3_KERNEL,
  IM2COL_3X3_KERNEL,
  SGD_STEP_KERNEL,
  type SgdStepAttrs,
  SOFTMAX_CROSS_ENTROPY_GRAD_KERNEL,
  SOFTMAX_CROSS_ENTROPY_KERNEL,
} from "./kernel-contracts.js";
export * from "./params.js";
export type * from "./plugins.js";
export { createRng, type RngState } from "./rng.js";
export { stopGradient } from "./stop-gradient.js";
export type * from "./types.js";
