import * as tf from "@tensorflow/tfjs-core";
import { kernelOwner, replaceKernel } from "../../registry-journal.js";
import { nativeKernels } from "../native-kernels.js";
import { simdKernels, type WasmHeapBackend } from "../simd-module.js";
import { MAX_POOL_GATHER_KERNEL, MAX_POOL_ROUTE_KERNEL } from "./contract.js";
import { poolWindowGeometry } from "../window-geometry.js";
import { nativeMaxPool, nativeMaxPoolRoute } from "./native.js";

const OWNER = "fast:max-pool-route";

/**
 * Replaces the wasm implementations of the max-pool gradient kernels of Concord's gradient set
 * (ConcordMaxPoolRoute: dy to each window's first maximum; ConcordMaxPoolGather: its adjoint) by
 * a window-maximum scan in wasm (gemm.wat's max_pool_positions) plus one pass over the windows,
 * also in wasm (max_pool_route, max_pool_gather; as a JavaScript loop it was about 1.7 % of a
 * per-task Omniglot iteration on wasm: bench/profiles/host-time-omniglot-maml1-wasm-per-task.json).
 * The reference (reference.ts) is a JavaScript loop over the heap (about 2 ms for a 5×28×28×64 layer). Same
 * values (the same first maximum is chosen); the kernels' gradients are unchanged. While native
 * kernels with maxPoolRoute are set, the scan and the routing are one native pass (no positions
 * buffer, no JavaScript loop over the windows), and the same scan computes MaxPool itself.
 */
export function installFastMaxPoolRoute(): boolean {
  if (kernelOwner(MAX_POOL_ROUTE_KERNEL, "wasm") === OWNER) return true;
  const route = tf.getKernel(MAX_POOL_ROUTE_KERNEL, "wasm");
  const gather = tf.getKernel(MAX_POOL_GATHER_KERNEL, "wasm");
  if (!route || !gather) return false;
  for (const [original, kind] of [
    [route, "route"],
    [gather, "gather"],
  ] as const) {
    const originalFunc = original.kernelFunc;
    const kernelFunc: tf.KernelFunc = (args) => maxPoolKernel(args, kind) ?? (originalFunc(args) as tf.TensorInfo);
    replaceKernel({ ...original, kernelFunc }, OWNER);
  }
  const pool = tf.getKernel("MaxPool", "wasm");
  if (pool) {
    const originalFunc = pool.kernelFunc;
    replaceKernel({ ...pool, kernelFunc: (args) => nativeMaxPool(args) ?? (originalFunc(args) as tf.TensorInfo) }, OWNER);
  }
  return true;
}

function maxPoolKernel({ inputs, backend, attrs = {} }: Parameters<tf.KernelFunc>[0], kind: "route" | "gather"): tf.TensorInfo | undefined {
  const x = inputs["x"] as tf.TensorInfo;
  const upstream = (kind === "route" ? inputs["dy"] : inputs["g"]) as tf.TensorInfo;
  const heapBackend = backend as unknown as WasmHeapBackend;
  const kernels = simdKernels(heapBackend);
  if (!kernels || x.dtype !== "float32" || upstream.dtype !== "float32") return undefined;
  const info = tf.backend_util.computePool2DInfo(
    x.shape as [number, number, number, number],
    attrs["filterSize"] as number | [number, number],
    attrs["strides"] as number | [number, number],
    1,
    attrs["pad"] as "same" | "valid" | number,
    attrs["dimRoundingMode"] as "floor" | "round" | "ceil" | undefined,
  );
  // The reference kernel reports the unsupported (overlapping) case with its error message.
  if (info.strideHeight !== info.filterHeight || info.strideWidth !== info.filterWidth) return undefined;
  const windows = tf.util.sizeFromShape(info.outShape);
  const outShape = kind === "route" ? [...x.shape] : [...info.outShape];
  const out = heapBackend.makeOutput(outShape, "float32");
  const offset = (t: tf.TensorInfo) => heapBackend.dataIdMap.get(t.dataId)!.memoryOffset;
  // The pooling geometry both implementations take, in their argument order.
  const geometry = poolWindowGeometry(info, info.padInfo.top, info.padInfo.left);
  const native = nativeKernels();
  if (native?.maxPoolRoute) {
    nativeMaxPoolRoute(heapBackend, native, x, upstream, out, geometry, kind);
    return out;
  }
  // Window positions, then the running maxima of one window's channels.
  const scratch = heapBackend.wasm._malloc((windows + info.inChannels) * 4);
  kernels.max_pool_positions(offset(x), scratch, scratch + windows * 4, ...geometry);
  if (kind === "route") kernels.max_pool_route(scratch, offset(upstream), offset(out), windows, tf.util.sizeFromShape(outShape));
  else kernels.max_pool_gather(scratch, offset(upstream), offset(out), windows);
  heapBackend.wasm._free(scratch);
  return out;
}
