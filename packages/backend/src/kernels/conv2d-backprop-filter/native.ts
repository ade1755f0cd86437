// The native variant of ConcordConv2DBackpropFilter's wasm kernel: the addon's im2col
// (conv2d-im2col/contract.ts) and sgemm (batch-mat-mul/contract.ts) on the wasm heap.
import type * as tf from "@tensorflow/tfjs-core";
import { heapBuffer, type NativeKernels } from "../native-kernels.js";
import type { WasmHeapBackend } from "../simd-module.js";
import type { Shape4 } from "./contract.js";

/** dW = Pᵀ · dy with P = im2col(x) built by the native im2col and read transposed in place by one native sgemm (no transpose copy). */
export function nativeConv2dBackpropFilter(
  heapBackend: WasmHeapBackend,
  native: NativeKernels,
  x: tf.TensorInfo,
  dy: tf.TensorInfo,
  filterShape: Shape4,
  info: tf.backend_util.Conv2DInfo,
): tf.TensorInfo {
  const { batchSize: n, inHeight: height, inWidth: width, inChannels: c, outHeight: oh, outWidth: ow, outChannels: o } = info;
  const [kh, kw] = filterShape;
  const rows = n * oh * ow;
  const depth = kh * kw * c;
  const offset = (t: tf.TensorInfo) => heapBackend.dataIdMap.get(t.dataId)!.memoryOffset;
  const patches = heapBackend.makeOutput([rows, depth], "float32");
  const dw = heapBackend.makeOutput([...filterShape], "float32");
  const buffer = heapBuffer(heapBackend);
  native.im2col(buffer, offset(x), offset(patches), n, height, width, c, oh, ow, kh, kw, info.padInfo.top, info.padInfo.left);
  native.sgemm(buffer, 1, depth, o, rows, true, false, offset(patches), 0, offset(dy), 0, offset(dw), 0);
  heapBackend.disposeData(patches.dataId);
  return dw;
}
