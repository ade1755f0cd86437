import * as tf from "@tensorflow/tfjs-core";
import { kernelOwner, replaceKernel } from "../../registry-journal.js";
import { nativeKernels } from "../native-kernels.js";
import { simdKernels, type WasmHeapBackend } from "../simd-module.js";
import { CONV2D_BACKPROP_FILTER as KERNEL } from "./contract.js";
import { nativeConv2dBackpropFilter } from "./native.js";

const OWNER = "fast:conv2d-backprop-filter";

/**
 * Replaces the wasm implementation of the filter-gradient kernel of Concord's gradient set (dW of a stride-1
 * NHWC convolution) by im2col + one XNNPACK matMul, with no transposes of x or dy:
 *
 *   P[(n, i, j), (h, w, c)] = xpad[n, i+h, j+w, c],   dW = Pᵀ · dy   ([kh·kw·c, n·i·j] · [n·i·j, o]).
 *
 * Pᵀ is written by transposing P (XNNPACK's matMul is fast only without transposes). Same values
 * up to summation order; the kernel's gradient (registered with the gradient set) is unchanged.
 * While native kernels are set (setNativeKernels), P is built by the native im2col and dW = Pᵀ · dy
 * is one native sgemm reading P transposed in place (no transpose copy).
 */
export function installFastConv2dBackpropFilter(): boolean {
  if (kernelOwner(KERNEL, "wasm") === OWNER) return true;
  const original = tf.getKernel(KERNEL, "wasm");
  const matMul = tf.getKernel("BatchMatMul", "wasm");
  if (!original || !matMul) return false;
  const originalFunc = original.kernelFunc;
  const kernelFunc: tf.KernelFunc = (args) => {
    const { inputs, backend, attrs = {} } = args;
    const x = inputs["x"] as tf.TensorInfo;
    const dy = inputs["dy"] as tf.TensorInfo;
    const filterShape = attrs["filterShape"] as [number, number, number, number];
    const heapBackend = backend as unknown as WasmHeapBackend;
    const kernels = simdKernels(heapBackend);
    if (!kernels || x.dtype !== "float32" || dy.dtype !== "float32") return originalFunc(args) as tf.TensorInfo;
    const info = tf.backend_util.computeConv2DInfo(
      x.shape as [number, number, number, number],
      filterShape,
      1,
      1,
      attrs["pad"] as "same" | "valid" | number | tf.backend_util.ExplicitPadding,
      attrs["dimRoundingMode"] as "floor" | "round" | "ceil" | undefined,
    );
    const { batchSize: n, inHeight: height, inWidth: width, inChannels: c, outHeight: oh, outWidth: ow, outChannels: o } = info;
    const [kh, kw] = filterShape;
    const rows = n * oh * ow;
    const depth = kh * kw * c;
    if (rows === 0 || depth === 0 || dy.shape[1] !== oh || dy.shape[2] !== ow) return originalFunc(args) as tf.TensorInfo;
    const offset = (t: tf.TensorInfo) => heapBackend.dataIdMap.get(t.dataId)!.memoryOffset;
    const native = nativeKernels();
    if (native) return nativeConv2dBackpropFilter(heapBackend, native, x, dy, filterShape, info);
    const patches = heapBackend.makeOutput([rows, depth], "float32");
    kernels.im2col(offset(x), offset(patches), n, height, width, c, oh, ow, kh, kw, info.padInfo.top, info.padInfo.left);
    const transposed = heapBackend.makeOutput([depth, rows], "float32");
    kernels.transpose(offset(patches), offset(transposed), rows, depth);
    heapBackend.disposeData(patches.dataId);
    const product = matMul.kernelFunc({
      inputs: { a: transposed, b: { dataId: dy.dataId, shape: [rows, o], dtype: "float32" } },
      backend,
      attrs: { transposeA: false, transposeB: false },
    }) as tf.TensorInfo;
    heapBackend.disposeData(transposed.dataId);
    return { dataId: product.dataId, shape: [...filterShape], dtype: "float32" };
  };
  replaceKernel({ ...original, kernelFunc }, OWNER);
  return true;
}
