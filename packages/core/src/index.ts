// Contracts only: nothing here registers or patches anything in TensorFlow.js (see @concord/backend).
export { ConcordError, expect, expectInteger, expectNumber } from "./errors.js";
export { createRng, type RngState } from "./rng.js";
export * from "./params.js";
export type * from "./types.js";
export { checkWeights } from "./check-weights.js";
export { ADAM_UPDATE_KERNEL, type AdamUpdateAttrs, type NativeKernels, SGD_STEP_KERNEL, type SgdStepAttrs } from "./kernel-contracts.js";
export { stopGradient } from "./stop-gradient.js";
export type * from "./plugins.js";
