// The filter gradient of a stride-1 NHWC convolution as one kernel with its own gradient:
//   dW[h, w, c, o] = Σ_{n,i,j} xpad[n, i+h, j+w, c] · dy[n, i, j, o].
// Its default implementation (cpu and wasm) is the conv2d of transposed tensors that conv.ts used
// to write with ops; as a kernel it can be replaced per backend by a faster one (Concord's wasm
// kernels use im2col + a matMul) and its gradient is direct (performance):
//   ∂/∂dy = conv2d(x, ddW)   and   ∂/∂x = conv2dTranspose(dy, ddW), both with the forward padding.
import * as tf from "@tensorflow/tfjs-core";
import type { GradConfig, KernelFunc, NamedAttrMap, TensorInfo } from "@tensorflow/tfjs-core";
import { replaceKernel } from "../registry-journal.js";
import { saved, single } from "./util.js";

export const CONV2D_BACKPROP_FILTER = "ConcordConv2DBackpropFilter";

type Pad = "same" | "valid" | number | tf.backend_util.ExplicitPadding;
type Shape4 = [number, number, number, number];
type Rounding = "floor" | "round" | "ceil" | undefined;

/** ∂L/∂W of y = conv2d(x, W) (stride 1, NHWC) for upstream dy. */
export function conv2dBackpropFilter(x: tf.Tensor, dy: tf.Tensor, filterShape: Shape4, pad: Pad, dimRoundingMode?: Rounding): tf.Tensor {
  const attrs: NamedAttrMap = { filterShape, pad: pad as NamedAttrMap[string] };
  if (dimRoundingMode) attrs["dimRoundingMode"] = dimRoundingMode;
  return tf.engine().runKernel(CONV2D_BACKPROP_FILTER, { x, dy }, attrs) as tf.Tensor;
}

/** The padding of the forward convolution, as explicit [top, bottom] and [left, right]. */
export function filterGradientPadding(xShape: readonly number[], attrs: NamedAttrMap): tf.backend_util.Conv2DInfo {
  return tf.backend_util.computeConv2DInfo(xShape as Shape4, attrs["filterShape"] as Shape4, 1, 1, attrs["pad"] as Pad, attrs["dimRoundingMode"] as Rounding);
}

/** Default kernel: a 'valid'-style conv2d of xᵀ [C,H,W,N] by dyᵀ [Ho,Wo,N,O], transposed back. */
function compositeKernel(backendName: string): KernelFunc {
  return ({ inputs, backend, attrs = {} }) => {
    const run = (name: string, kernelInputs: Record<string, TensorInfo>, kernelAttrs: NamedAttrMap) => {
      const kernel = tf.getKernel(name, backendName);
      if (!kernel) throw new Error(`${CONV2D_BACKPROP_FILTER}: backend ${backendName} has no ${name} kernel`);
      return kernel.kernelFunc({ inputs: kernelInputs, backend, attrs: kernelAttrs }) as TensorInfo;
    };
    const release = (t: TensorInfo) => (backend as unknown as { disposeData(id: object): void }).disposeData(t.dataId);
    const x = inputs["x"] as TensorInfo;
    const dy = inputs["dy"] as TensorInfo;
    const { top, bottom, left, right } = filterGradientPadding(x.shape, attrs).padInfo;
    const channelsFirst = run("Transpose", { x }, { perm: [3, 1, 2, 0] });
    const dyAsFilter = run("Transpose", { x: dy }, { perm: [1, 2, 0, 3] });
    const product = run(
      "Conv2D",
      { x: channelsFirst, filter: dyAsFilter },
      {
        strides: [1, 1],
        pad: [
          [0, 0],
          [top, bottom],
          [left, right],
          [0, 0],
        ],
        dataFormat: "NHWC",
        dilations: [1, 1],
      },
    );
    release(channelsFirst);
    release(dyAsFilter);
    const result = run("Transpose", { x: product }, { perm: [1, 2, 0, 3] });
    release(product);
    return result;
  };
}

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

/** Registers the default kernel on cpu and wasm unless a backend already has one (e.g. a faster one). */
export function registerConv2dBackpropFilterKernels(): void {
  for (const backendName of ["cpu", "wasm"]) {
    if (!tf.getKernel(CONV2D_BACKPROP_FILTER, backendName)) {
      replaceKernel({ kernelName: CONV2D_BACKPROP_FILTER, backendName, kernelFunc: compositeKernel(backendName) }, "gradients");
    }
  }
}
