// Gradient of ConcordSgdStep (contract.ts), θ' = θ − lr·g.
import * as tf from "@tensorflow/tfjs-core";
import type { GradConfig } from "@tensorflow/tfjs-core";
import { single, unbroadcastUpstream } from "../../gradients/util.js";
import { SGD_STEP_KERNEL, type SgdStepAttrs } from "./contract.js";

/**
 * The op form's gradient, kernel for kernel: tf.sub's (dy reshaped for θ, −dy for the product)
 * then tf.mul's (−dy · lr for g). Differentiable ops only, so higher orders stay exact.
 */
export const sgdStepGradient: GradConfig = {
  kernelName: SGD_STEP_KERNEL,
  gradFunc: (dy, _saved, attrs) => {
    const g = single(dy);
    const { lr } = attrs as unknown as SgdStepAttrs;
    return {
      param: () => unbroadcastUpstream(g, g.shape),
      grad: () => tf.mul(tf.neg(g), tf.scalar(lr, "float32")),
    };
  },
};
