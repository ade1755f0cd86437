// The gradient of ConcordConv2DBackpropFilter (contract.ts), direct (performance): dW is bilinear in x
// and dy, so ∂/∂dy = conv2d(x, ddW) and ∂/∂x = conv2dTranspose(dy, ddW), both with the forward padding.
import * as tf from "@tensorflow/tfjs-core";
import type { GradConfig } from "@tensorflow/tfjs-core";
import { saved, single } from "../../gradients/util.js";
import { CONV2D_BACKPROP_FILTER, type Pad, type Rounding, type Shape4 } from "./contract.js";

export const conv2dBackpropFilterGradients: GradConfig[] = [
  {
    // dW is bilinear in x and dy.
    kernelName: CONV2D_BACKPROP_FILTER,
    inputsToSave: ["x", "dy"],
    gradFunc: (ddw, s, attrs) => {
      const x = saved(s, 0);
      const dy = saved(s, 1);
      const g = single(ddw) as tf.Tensor4D;
      const pad = attrs["pad"] as Pad;
      const rounding = attrs["dimRoundingMode"] as Rounding;
      return {
        x: () => tf.conv2dTranspose(dy as tf.Tensor4D, g, x.shape as Shape4, 1, pad, rounding),
        dy: () => tf.conv2d(x as tf.Tensor4D, g, 1, pad, "NHWC", 1, rounding),
      };
    },
  },
];
