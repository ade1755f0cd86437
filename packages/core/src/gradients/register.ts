// Registers Concord's gradient set with tfjs-core (a side effect of importing @concord/core).
import * as tf from "@tensorflow/tfjs-core";
import type { GradConfig } from "@tensorflow/tfjs-core";
import { arithmeticGradients } from "./arithmetic.js";
import { constantGradients } from "./constant.js";
import { convGradients } from "./conv.js";
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
];

/** Names of the kernels whose gradients Concord registers. */
export const concordGradientKernels: readonly string[] = concordGradientConfigs.map((c) => c.kernelName);

/**
 * Registers Concord's gradient set in tfjs-core's gradient registry. Idempotent: a kernel whose
 * registered gradient is already Concord's is left alone; any other gradient for the same kernel
 * (tfjs's own, e.g. after importing the `@tensorflow/tfjs` union package) is replaced. Call it
 * again after loading something that registers gradients of its own.
 */
export function registerConcordGradients(): void {
  for (const config of concordGradientConfigs) {
    if (tf.getGradient(config.kernelName) !== config) tf.registerGradient(config);
  }
}

registerConcordGradients();
