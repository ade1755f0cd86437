// Gradients of 2-D convolution and max pooling (NHWC, stride-1 convolutions, non-overlapping pools).
//
// The filter gradient is written as a conv2d of transposed tensors rather than tfjs's
// Conv2DBackpropFilter kernel: wasm has no such kernel, and the kernel has no gradient, so a
// second-order tape could not pass through it. Max pooling routes dy to the arg-max of each
// window with a pair of fused kernels that are each other's gradient (kernels/max-pool-route/), so its
// gradient is itself differentiable.
import * as tf from "@tensorflow/tfjs-core";
import type { GradConfig, NamedAttrMap } from "@tensorflow/tfjs-core";
import { conv2dBackpropFilter } from "../kernels/conv2d-backprop-filter/contract.js";
import { conv2dBackpropFilterGradients } from "../kernels/conv2d-backprop-filter/gradient.js";
import { maxPoolRoute } from "../kernels/max-pool-route/contract.js";
import { maxPoolRouteGradients } from "../kernels/max-pool-route/gradient.js";
import { numbers, saved, single } from "./util.js";

type Pad = "same" | "valid" | number | tf.backend_util.ExplicitPadding;
type Shape4 = [number, number, number, number];

interface ConvAttrs {
  pad: Pad;
  dimRoundingMode?: "floor" | "round" | "ceil";
}

function convAttrs(kernelName: string, attrs: NamedAttrMap): ConvAttrs {
  const strides = numbers(attrs["strides"] ?? 1);
  const dilations = numbers(attrs["dilations"] ?? 1);
  const dataFormat = (attrs["dataFormat"] as string | undefined) ?? "NHWC";
  if (strides.some((v) => v !== 1) || dilations.some((v) => v !== 1) || dataFormat !== "NHWC") {
    throw new Error(
      `Concord gradient for ${kernelName}: only NHWC, strides 1 and dilations 1 are differentiable ` +
        `(got strides ${strides}, dilations ${dilations}, ${dataFormat})`,
    );
  }
  const dimRoundingMode = attrs["dimRoundingMode"] as ConvAttrs["dimRoundingMode"];
  return { pad: attrs["pad"] as Pad, ...(dimRoundingMode ? { dimRoundingMode } : {}) };
}

/**
 * ∂L/∂W for y = conv2d(x, W) with stride 1: dW[i,j,c,o] = Σ_{n,h,w} xpad[n,h+i,w+j,c]·dy[n,h,w,o],
 * one kernel with its own gradient (kernels/conv2d-backprop-filter/; by default a 'valid' conv2d of
 * xᵀ [C,H,W,N] by dyᵀ [Ho,Wo,N,O], padded like the forward pass).
 */
export function conv2dFilterGradient(x: tf.Tensor, dy: tf.Tensor, filterShape: Shape4, attrs: ConvAttrs): tf.Tensor {
  return conv2dBackpropFilter(x, dy, filterShape, attrs.pad, attrs.dimRoundingMode);
}

export const convGradients: GradConfig[] = [
  {
    kernelName: "Conv2D",
    inputsToSave: ["x", "filter"],
    gradFunc: (dy, s, attrs) => {
      const x = saved(s, 0);
      const filter = saved(s, 1);
      const conv = convAttrs("Conv2D", attrs);
      const g = single(dy);
      return {
        x: () => tf.conv2dTranspose(g as tf.Tensor4D, filter as tf.Tensor4D, x.shape as Shape4, 1, conv.pad, conv.dimRoundingMode),
        filter: () => conv2dFilterGradient(x, g, filter.shape as Shape4, conv),
      };
    },
  },
  {
    // dx = Conv2DBackpropInput(dy, W) is linear in dy and W: its gradients are the forward conv
    // (for dy) and the filter gradient with dx's upstream gradient as the input (for W).
    kernelName: "Conv2DBackpropInput",
    inputsToSave: ["dy", "filter"],
    gradFunc: (ddx, s, attrs) => {
      const dy = saved(s, 0);
      const filter = saved(s, 1);
      const conv = convAttrs("Conv2DBackpropInput", attrs);
      const g = single(ddx);
      return {
        dy: () => tf.conv2d(g as tf.Tensor4D, filter as tf.Tensor4D, 1, conv.pad, "NHWC", 1, conv.dimRoundingMode),
        filter: () => conv2dFilterGradient(g, dy, filter.shape as Shape4, conv),
      };
    },
  },
  {
    // dx routes each window's dy to the first maximum of its window in x (as tfjs and PyTorch
    // pick it). maxPoolRoute is a fused kernel whose own gradient is its adjoint (kernels/max-pool-route/),
    // so this stays differentiable.
    kernelName: "MaxPool",
    inputsToSave: ["x"],
    gradFunc: (dy, s, attrs) => {
      const x = saved(s, 0);
      return { x: () => maxPoolRoute(x, single(dy), attrs) };
    },
  },
  ...maxPoolRouteGradients,
  ...conv2dBackpropFilterGradients,
];
