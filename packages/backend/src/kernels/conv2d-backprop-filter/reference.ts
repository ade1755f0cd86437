// The reference implementation of ConcordConv2DBackpropFilter (contract.ts) on cpu and wasm: the
// conv2d of transposed tensors that conv.ts used to write with ops. fast.ts replaces the wasm one.
import * as tf from "@tensorflow/tfjs-core";
import type { KernelFunc, NamedAttrMap, TensorInfo } from "@tensorflow/tfjs-core";
import { replaceKernel } from "../../registry-journal.js";
import { CONV2D_BACKPROP_FILTER, type Pad, type Rounding, type Shape4 } from "./contract.js";

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

/** Registers the default kernel on cpu and wasm unless a backend already has one (e.g. a faster one). */
export function registerConv2dBackpropFilterKernels(): void {
  for (const backendName of ["cpu", "wasm"]) {
    if (!tf.getKernel(CONV2D_BACKPROP_FILTER, backendName)) {
      replaceKernel({ kernelName: CONV2D_BACKPROP_FILTER, backendName, kernelFunc: compositeKernel(backendName) }, "gradients");
    }
  }
}
