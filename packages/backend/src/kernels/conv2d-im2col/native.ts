// The native variant of the wasm Conv2D: the addon's im2col (contract.ts) and sgemm
// (batch-mat-mul/contract.ts) on the wasm heap.
import type * as tf from "@tensorflow/tfjs-core";
import { heapBuffer, type NativeKernels } from "../native-kernels.js";
import type { WasmHeapBackend } from "../simd-module.js";

/** out[(n, i, j), o] = P · W with P = im2col(x): one native sgemm (P is x itself for an unpadded 1×1 filter). */
export function nativeConv2d(
  backend: WasmHeapBackend,
  native: NativeKernels,
  x: tf.TensorInfo,
  filter: tf.TensorInfo,
  info: tf.backend_util.Conv2DInfo,
): tf.TensorInfo | undefined {
  const {
    batchSize: n,
    inHeight: height,
    inWidth: width,
    inChannels: cin,
    outHeight: oh,
    outWidth: ow,
    outChannels: cout,
    filterHeight: kh,
    filterWidth: kw,
  } = info;
  const { top, left } = info.padInfo;
  const source = backend.dataIdMap.get(x.dataId)?.memoryOffset;
  const weights = backend.dataIdMap.get(filter.dataId)?.memoryOffset;
  if (source === undefined || weights === undefined) return undefined;
  const rows = n * oh * ow;
  const depth = kh * kw * cin;
  const direct = kh === 1 && kw === 1 && top === 0 && left === 0 && oh === height && ow === width;
  const patches = direct ? undefined : backend.makeOutput([rows, depth], "float32");
  const out = backend.makeOutput([n, oh, ow, cout], "float32");
  const patchOffset = patches ? backend.dataIdMap.get(patches.dataId)!.memoryOffset : source;
  const buffer = heapBuffer(backend);
  if (patches) native.im2col(buffer, source, patchOffset, n, height, width, cin, oh, ow, kh, kw, top, left);
  native.sgemm(buffer, 1, rows, cout, depth, false, false, patchOffset, 0, weights, 0, backend.dataIdMap.get(out.dataId)!.memoryOffset, 0);
  if (patches) backend.disposeData(patches.dataId);
  return out;
}
