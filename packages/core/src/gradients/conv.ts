// Gradients of 2-D convolution and max pooling (NHWC, stride-1 convolutions, non-overlapping pools).
//
// The filter gradient is written as a conv2d of transposed tensors rather than tfjs's
// Conv2DBackpropFilter kernel: wasm has no such kernel, and the kernel has no gradient, so a
// second-order tape could not pass through it. Max pooling routes dy to the arg-max of each
// window with a one-hot mask (ArgMax and OneHot have zero gradient), so its gradient is itself
// differentiable.
import * as tf from "@tensorflow/tfjs-core";
import type { GradConfig, NamedAttrMap } from "@tensorflow/tfjs-core";
import { numbers, oneHotFloat, saved, single } from "./util.js";

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
 * i.e. a 'valid' conv2d of xᵀ [C,H,W,N] (padded like the forward pass) by dyᵀ [Ho,Wo,N,O].
 */
export function conv2dFilterGradient(x: tf.Tensor, dy: tf.Tensor, filterShape: Shape4, attrs: ConvAttrs): tf.Tensor {
  const info = tf.backend_util.computeConv2DInfo(
    x.shape as Shape4,
    filterShape,
    1,
    1,
    attrs.pad,
    attrs.dimRoundingMode,
  );
  const { top, bottom, left, right } = info.padInfo;
  const channelsFirst = tf.transpose(x, [3, 1, 2, 0]);
  const dyAsFilter = tf.transpose(dy, [1, 2, 0, 3]);
  const padding: tf.backend_util.ExplicitPadding = [[0, 0], [top, bottom], [left, right], [0, 0]];
  const result = tf.conv2d(channelsFirst as tf.Tensor4D, dyAsFilter as tf.Tensor4D, 1, padding);
  return tf.transpose(result, [1, 2, 0, 3]);
}

interface PoolWindows {
  /** [N, Ho, Wo, C, kh·kw]: each pooling window on the last axis. */
  windows: tf.Tensor;
  /** Undoes `windows` for a tensor of that shape, giving the input shape (zeros where no window reads). */
  unwindow(t: tf.Tensor): tf.Tensor;
}

/**
 * Splits x into the non-overlapping windows of a max pool whose stride equals its filter size
 * (padding, if any, is −∞ so it never wins a window).
 */
function poolWindows(x: tf.Tensor, attrs: NamedAttrMap): PoolWindows {
  const kernelName = "MaxPool";
  const [batch = 1, height = 1, width = 1, channels = 1] = x.shape;
  const info = tf.backend_util.computePool2DInfo(
    x.shape as Shape4,
    attrs["filterSize"] as number | [number, number],
    attrs["strides"] as number | [number, number],
    1,
    attrs["pad"] as Pad,
    attrs["dimRoundingMode"] as "floor" | "round" | "ceil" | undefined,
  );
  const { filterHeight: kh, filterWidth: kw, strideHeight, strideWidth, outHeight: ho, outWidth: wo } = info;
  if (strideHeight !== kh || strideWidth !== kw) {
    throw new Error(
      `Concord gradient for ${kernelName}: only pools whose strides equal their filter size are ` +
        `differentiable (got filter ${kh}x${kw}, strides ${strideHeight}x${strideWidth})`,
    );
  }
  const { top, left } = info.padInfo;
  // Rows/columns the windows cover, in padded coordinates; crop or pad x to exactly that.
  const coveredH = ho * kh;
  const coveredW = wo * kw;
  const padBottom = Math.max(0, coveredH - top - height);
  const padRight = Math.max(0, coveredW - left - width);
  const padded =
    top > 0 || left > 0 || padBottom > 0 || padRight > 0
      ? tf.pad(x, [[0, 0], [top, padBottom], [left, padRight], [0, 0]], Number.NEGATIVE_INFINITY)
      : x;
  const cropped =
    padded.shape[1] !== coveredH || padded.shape[2] !== coveredW
      ? tf.slice(padded, [0, 0, 0, 0], [batch, coveredH, coveredW, channels])
      : padded;
  const windows = tf.reshape(
    tf.transpose(tf.reshape(cropped, [batch, ho, kh, wo, kw, channels]), [0, 1, 3, 5, 2, 4]),
    [batch, ho, wo, channels, kh * kw],
  );
  const unwindow = (t: tf.Tensor): tf.Tensor => {
    const spatial = tf.reshape(
      tf.transpose(tf.reshape(t, [batch, ho, wo, channels, kh, kw]), [0, 1, 4, 2, 5, 3]),
      [batch, coveredH, coveredW, channels],
    );
    // Back to x's frame: drop the padding rows, restore rows no window covered (as zeros).
    const fullH = top + height;
    const fullW = left + width;
    const restored =
      coveredH < fullH || coveredW < fullW
        ? tf.pad(spatial, [[0, 0], [0, Math.max(0, fullH - coveredH)], [0, Math.max(0, fullW - coveredW)], [0, 0]])
        : spatial;
    return top > 0 || left > 0 || restored.shape[1] !== height || restored.shape[2] !== width
      ? tf.slice(restored, [0, top, left, 0], [batch, height, width, channels])
      : restored;
  };
  return { windows, unwindow };
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
        x: () =>
          tf.conv2dTranspose(g as tf.Tensor4D, filter as tf.Tensor4D, x.shape as Shape4, 1, conv.pad, conv.dimRoundingMode),
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
    kernelName: "MaxPool",
    inputsToSave: ["x"],
    gradFunc: (dy, s, attrs) => {
      const x = saved(s, 0);
      return {
        x: () => {
          const { windows, unwindow } = poolWindows(x, attrs);
          const size = windows.shape[4] ?? 1;
          // First maximum of each window, as tfjs and PyTorch pick it.
          const mask = oneHotFloat(tf.argMax(windows, -1), size);
          return unwindow(tf.mul(mask, tf.expandDims(single(dy), -1)));
        },
      };
    },
  },
];
