import * as tf from "@tensorflow/tfjs-core";
import { kernelOwner, replaceKernel } from "../../registry-journal.js";

import { simdKernels, type WasmHeapBackend } from "../simd-module.js";

const OWNER = "fast:conv2d-backprop-input";

/**
 * Replaces the wasm backend's Conv2DBackpropInput kernel (tf.conv2dTranspose; the input gradient
 * of every convolution) for stride-1, undilated NHWC convolutions with the identity
 *
 *   dx = conv2d(dy, W′),  W′[i, j, o, c] = W[kh−1−i, kw−1−j, c, o],
 *
 * padded by (kh−1−top, …) so that dx has the input's size. tfjs-wasm runs Conv2DBackpropInput as
 * a direct loop (about 24 ms for one layer of a 5-image Omniglot batch); its Conv2D is XNNPACK.
 * Same values up to summation order; the kernel's gradient (registered by name) is unchanged.
 * Other configurations go to the original kernel.
 */
export function installFastConv2dBackpropInput(): boolean {
  if (kernelOwner("Conv2DBackpropInput", "wasm") === OWNER) return true;
  const original = tf.getKernel("Conv2DBackpropInput", "wasm");
  const conv2d = tf.getKernel("Conv2D", "wasm");
  if (!original || !conv2d) return false;
  const originalFunc = original.kernelFunc;

  const kernelFunc: tf.KernelFunc = (args) => {
    const { inputs, backend, attrs = {} } = args;
    const dy = inputs["dy"] as tf.TensorInfo;
    const filter = inputs["filter"] as tf.TensorInfo;
    const inputShape = attrs["inputShape"] as [number, number, number, number];
    const strides = attrs["strides"] as number | [number, number];
    const dataFormat = (attrs["dataFormat"] as string | undefined) ?? "NHWC";
    const unitStride = (Array.isArray(strides) ? strides : [strides, strides]).every((s) => s === 1);
    if (!unitStride || dataFormat !== "NHWC" || dy.dtype !== "float32" || filter.dtype !== "float32") {
      return originalFunc(args) as tf.TensorInfo;
    }
    const [kh, kw, inChannels, outChannels] = filter.shape as [number, number, number, number];
    const info = tf.backend_util.computeConv2DInfo(
      inputShape,
      filter.shape as [number, number, number, number],
      1,
      1,
      attrs["pad"] as "same" | "valid" | number | tf.backend_util.ExplicitPadding,
      attrs["dimRoundingMode"] as "floor" | "round" | "ceil" | undefined,
    );
    const { top, left } = info.padInfo;
    const padTop = kh - 1 - top;
    const padLeft = kw - 1 - left;
    const padBottom = inputShape[1] - dy.shape[1]! + kh - 1 - padTop;
    const padRight = inputShape[2] - dy.shape[2]! + kw - 1 - padLeft;
    if ([padTop, padLeft, padBottom, padRight].some((p) => p < 0)) return originalFunc(args) as tf.TensorInfo;

    const heapBackend = backend as unknown as WasmHeapBackend;
    const kernels = simdKernels(heapBackend);
    if (!kernels) return originalFunc(args) as tf.TensorInfo;
    const swapped = heapBackend.makeOutput([kh, kw, outChannels, inChannels], "float32");
    // W′[i, j, o, c] = W[kh−1−i, kw−1−j, c, o]
    kernels.flip_filter(
      heapBackend.dataIdMap.get(filter.dataId)!.memoryOffset,
      heapBackend.dataIdMap.get(swapped.dataId)!.memoryOffset,
      kh,
      kw,
      inChannels,
      outChannels,
    );
    const dx = conv2d.kernelFunc({
      inputs: { x: dy, filter: swapped },
      backend,
      attrs: {
        strides: [1, 1],
        pad: [
          [0, 0],
          [padTop, padBottom],
          [padLeft, padRight],
          [0, 0],
        ],
        dataFormat: "NHWC",
        dilations: [1, 1],
      },
    }) as tf.TensorInfo;
    heapBackend.disposeData(swapped.dataId);
    return dx;
  };
  replaceKernel({ ...original, kernelFunc }, OWNER);
  return true;
}
