// The native variants of the max-pool kernels on the wasm heap: the addon's maxPoolRoute
// (contract.ts) routes, gathers and, where it can, pools.
import * as tf from "@tensorflow/tfjs-core";
import { heapBuffer, type NativeKernels, nativeKernels } from "../native-kernels.js";
import type { WasmHeapBackend } from "../simd-module.js";
import { poolWindowGeometry, type WindowGeometry } from "../window-geometry.js";

/** Route (out x-shaped) or gather (out pooled) by the native scan, into `out` (allocated by the caller, who checked that `native` has maxPoolRoute). */
export function nativeMaxPoolRoute(
  heapBackend: WasmHeapBackend,
  native: NativeKernels,
  x: tf.TensorInfo,
  upstream: tf.TensorInfo,
  out: tf.TensorInfo,
  geometry: Readonly<WindowGeometry>,
  kind: "route" | "gather",
): void {
  const offset = (t: tf.TensorInfo) => heapBackend.dataIdMap.get(t.dataId)!.memoryOffset;
  native.maxPoolRoute!(heapBuffer(heapBackend), offset(x), offset(upstream), offset(out), ...geometry, kind === "gather" ? 1 : 0);
}

/**
 * tfjs-wasm's MaxPool (XNNPACK) by the native scan while native kernels with maxPoolRoute are set:
 * a 2×2/stride-2 pool of a 5×28×28×64 layer costs about half (microbenchmark). Unpadded pools whose stride equals the
 * window, float32. Without NaN and −0 a window's maximum is one bit pattern, so the values are the
 * same bits; where x holds a NaN or a −0 the addon says so and XNNPACK computes the pool (it skips a
 * NaN or gives −∞ for one, and its tap order decides between −0 and +0). A pool of the conv net's
 * batch-norm + ReLU output never has either.
 */
export function nativeMaxPool({ inputs, backend, attrs = {} }: Parameters<tf.KernelFunc>[0]): tf.TensorInfo | undefined {
  const native = nativeKernels();
  const x = inputs["x"] as tf.TensorInfo;
  if (!native?.maxPoolRoute || !native.maxPoolForward || x.dtype !== "float32" || x.shape.length !== 4) return undefined;
  const info = tf.backend_util.computePool2DInfo(
    x.shape as [number, number, number, number],
    attrs["filterSize"] as number | [number, number],
    attrs["strides"] as number | [number, number],
    1,
    attrs["pad"] as "same" | "valid" | number,
    attrs["dimRoundingMode"] as "floor" | "round" | "ceil" | undefined,
  );
  const { top, left, bottom, right } = info.padInfo;
  const unpadded = top === 0 && left === 0 && bottom === 0 && right === 0;
  if (!unpadded || info.strideHeight !== info.filterHeight || info.strideWidth !== info.filterWidth || tf.util.sizeFromShape(info.outShape) === 0)
    return undefined;
  const heapBackend = backend as unknown as WasmHeapBackend;
  const out = heapBackend.makeOutput([...info.outShape], "float32");
  const offset = (t: tf.TensorInfo) => heapBackend.dataIdMap.get(t.dataId)!.memoryOffset;
  const geometry = poolWindowGeometry(info, 0, 0);
  const POOL = 2;
  if (native.maxPoolRoute(heapBuffer(heapBackend), offset(x), offset(x), offset(out), ...geometry, POOL) === true) return out;
  heapBackend.disposeData(out.dataId);
  return undefined;
}
