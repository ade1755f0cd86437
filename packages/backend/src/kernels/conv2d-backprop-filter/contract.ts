// ConcordConv2DBackpropFilter: the filter gradient of a stride-1 NHWC convolution as one kernel,
//   dW[h, w, c, o] = Σ_{n,i,j} xpad[n, i+h, j+w, c] · dy[n, i, j, o],
// so that it has a gradient of its own (tfjs's Conv2DBackpropFilter has none, and wasm lacks it) and
// a faster implementation per backend. Used only by Concord's Conv2D gradients (gradients/conv.ts).
// No native function of its own: its native variant (native.ts) calls im2col and sgemm.
import * as tf from "@tensorflow/tfjs-core";
import type { NamedAttrMap } from "@tensorflow/tfjs-core";

export const CONV2D_BACKPROP_FILTER = "ConcordConv2DBackpropFilter";

export type Pad = "same" | "valid" | number | tf.backend_util.ExplicitPadding;
export type Shape4 = [number, number, number, number];
export type Rounding = "floor" | "round" | "ceil" | undefined;

/** Attributes of {@link CONV2D_BACKPROP_FILTER}: those of the forward convolution (inputs `{ x, dy }`). */
export interface Conv2dBackpropFilterAttrs {
  readonly filterShape: Shape4;
  readonly pad: Pad;
  readonly dimRoundingMode?: Rounding;
}

/** ∂L/∂W of y = conv2d(x, W) (stride 1, NHWC) for upstream dy. */
export function conv2dBackpropFilter(x: tf.Tensor, dy: tf.Tensor, filterShape: Shape4, pad: Pad, dimRoundingMode?: Rounding): tf.Tensor {
  const attrs: NamedAttrMap = { filterShape, pad: pad as NamedAttrMap[string] };
  if (dimRoundingMode) attrs["dimRoundingMode"] = dimRoundingMode;
  return tf.engine().runKernel(CONV2D_BACKPROP_FILTER, { x, dy }, attrs) as tf.Tensor;
}
