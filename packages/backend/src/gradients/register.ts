// Concord's gradient set (pure data) and the function that registers it with tfjs-core.

import type { GradConfig } from "@tensorflow/tfjs-core";
import * as tf from "@tensorflow/tfjs-core";
import { replaceGradient } from "../registry-journal.js";
import { arithmeticGradients } from "./arithmetic.js";
import { BATCH_NORM_GRAD_GRAD_KERNEL } from "../kernels/batch-norm/contract.js";
import { batchNormGradients } from "../kernels/batch-norm/gradient.js";
import { constantGradients } from "./constant.js";
import { convGradients } from "./conv.js";
import { SOFTMAX_CROSS_ENTROPY_GRAD_GRAD_KERNEL } from "../kernels/cross-entropy/contract.js";
import { softmaxCrossEntropyGradients } from "../kernels/cross-entropy/gradient.js";
import { registerConv2dBackpropFilterKernels } from "../kernels/conv2d-backprop-filter/reference.js";
import { im2col3x3Gradients } from "../kernels/im2col-3x3/gradient.js";
import { registerIm2col3x3Kernels } from "../kernels/im2col-3x3/reference.js";
import { registerMaxPoolRouteKernels } from "../kernels/max-pool-route/reference.js";
import { sgdStepGradient } from "../kernels/sgd-step/gradient.js";
import { matMulGradients } from "./matmul.js";
import { reductionGradients } from "./reduction.js";
import { shapeGradients } from "./shape.js";
import { leakyReluGradient, softmaxGradient, unaryGradients } from "./unary.js";

/**
 * Every gradient Concord registers. Each one is computed from the kernel's saved inputs with
 * kernels that are themselves in this set, so gradients of gradients (second-order MAML) are
 * exact and never hit a missing gradient.
 */
export const concordGradientConfigs: readonly GradConfig[] = [
  ...arithmeticGradients,
  ...unaryGradients,
  leakyReluGradient,
  softmaxGradient,
  ...constantGradients,
  ...reductionGradients,
  ...shapeGradients,
  ...matMulGradients,
  ...convGradients,
  ...batchNormGradients,
  ...softmaxCrossEntropyGradients,
  ...im2col3x3Gradients,
  sgdStepGradient,
];

/** Names of the kernels whose gradients Concord registers. */
export const concordGradientKernels: readonly string[] = concordGradientConfigs.map((c) => c.kernelName);

/**
 * Kernels that Concord's gradients run only while no gradient tape records kernels (in the
 * outermost backward pass), so that nothing can differentiate them: they have no gradient. Batch
 * norm's and cross-entropy's second-order kernels (kernels/batch-norm/gradient.ts,
 * kernels/cross-entropy/gradient.ts; under a tape the same gradients run differentiable tf ops).
 */
export const untapedGradientKernels: readonly string[] = [BATCH_NORM_GRAD_GRAD_KERNEL, SOFTMAX_CROSS_ENTROPY_GRAD_GRAD_KERNEL];

/**
 * Registers Concord's gradient set in tfjs-core's gradient registry, and the kernels it adds
 * (ConcordMaxPoolRoute/Gather, ConcordConv2DBackpropFilter, ConcordIm2Col3x3/Col2Im3x3 on cpu and wasm). Idempotent: a kernel
 * whose registered gradient is already Concord's is left alone; any other gradient for the same
 * kernel (tfjs's own, e.g. after importing the `@tensorflow/tfjs` union package) is replaced. Part
 * of installConcord(); call it again after loading something that registers gradients of its own.
 * uninstallConcord() puts back what was registered before.
 */
export function registerConcordGradients(): void {
  for (const config of concordGradientConfigs) {
    if (tf.getGradient(config.kernelName) !== config) replaceGradient(config);
  }
  registerMaxPoolRouteKernels();
  registerConv2dBackpropFilterKernels();
  registerIm2col3x3Kernels();
}

/** True when every gradient of Concord's set is the registered one (a pure check). */
export function concordGradientsRegistered(): boolean {
  return concordGradientConfigs.every((config) => tf.getGradient(config.kernelName) === config);
}

const configByKernel = new Map(concordGradientConfigs.map((config) => [config.kernelName, config]));

/** True when `kernelName`'s registered gradient is Concord's (not tfjs's own, not missing). */
export function hasConcordGradient(kernelName: string): boolean {
  const config = configByKernel.get(kernelName);
  return config !== undefined && tf.getGradient(kernelName) === config;
}
