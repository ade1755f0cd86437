import * as tf from "@tensorflow/tfjs-core";
import { kernelOwner, replaceKernel } from "../../registry-journal.js";
import { nativeKernels } from "../native-kernels.js";
import { simdKernels, type WasmHeapBackend } from "../simd-module.js";
import { COL2IM_3X3_KERNEL, IM2COL_3X3_KERNEL } from "./contract.js";
import { nativeCol2im3x3, nativeIm2col3x3 } from "./native.js";

const OWNER = "fast:im2col-3x3";

/**
 * Replaces the wasm implementations of Concord's 3×3 im2col and col2im kernels (IM2COL_3X3_KERNEL,
 * COL2IM_3X3_KERNEL; the references, reference.ts, are JavaScript loops over the heap): im2col by the
 * one the Conv2D replacement uses, the native addon's when native kernels are set, else gemm.wat's
 * (one contiguous copy per row and filter row); col2im by the addon's col2im3x3 when it has one
 * (the batched conv net's input gradient: the reference loop took a fifth of a native batched
 * first-order Omniglot iteration). The same bits; the gradients are unchanged.
 */
export function installFastIm2col3x3(): boolean {
  if (kernelOwner(IM2COL_3X3_KERNEL, "wasm") === OWNER) return true;
  const im2col = tf.getKernel(IM2COL_3X3_KERNEL, "wasm");
  const col2im = tf.getKernel(COL2IM_3X3_KERNEL, "wasm");
  if (!im2col || !col2im) return false;
  const [im2colFunc, col2imFunc] = [im2col.kernelFunc, col2im.kernelFunc];
  replaceKernel({ ...im2col, kernelFunc: (args) => fastIm2col(args) ?? (im2colFunc(args) as tf.TensorInfo) }, OWNER);
  replaceKernel({ ...col2im, kernelFunc: (args) => nativeCol2im(args) ?? (col2imFunc(args) as tf.TensorInfo) }, OWNER);
  return true;
}

function fastIm2col({ inputs, backend }: Parameters<tf.KernelFunc>[0]): tf.TensorInfo | undefined {
  const x = inputs["x"] as tf.TensorInfo;
  if (x.dtype !== "float32" || x.shape.length !== 4 || tf.util.sizeFromShape(x.shape) === 0) return undefined;
  const [n, height, width, c] = x.shape as [number, number, number, number];
  const heapBackend = backend as unknown as WasmHeapBackend;
  const native = nativeKernels();
  const kernels = native ? undefined : simdKernels(heapBackend);
  const source = heapBackend.dataIdMap.get(x.dataId)?.memoryOffset;
  if ((!native && !kernels) || source === undefined) return undefined;
  const out = heapBackend.makeOutput([n, height, width, 9 * c], "float32");
  const target = heapBackend.dataIdMap.get(out.dataId)!.memoryOffset;
  if (native) nativeIm2col3x3(heapBackend, native, source, target, n, height, width, c);
  else kernels!.im2col(source, target, n, height, width, c, height, width, 3, 3, 1, 1);
  return out;
}

function nativeCol2im({ inputs, backend }: Parameters<tf.KernelFunc>[0]): tf.TensorInfo | undefined {
  const patches = inputs["patches"] as tf.TensorInfo;
  const native = nativeKernels();
  if (!native?.col2im3x3 || patches.dtype !== "float32" || patches.shape.length !== 4 || patches.shape[3]! % 9 !== 0) return undefined;
  if (tf.util.sizeFromShape(patches.shape) === 0) return undefined;
  const [n, height, width, taps] = patches.shape as [number, number, number, number];
  const heapBackend = backend as unknown as WasmHeapBackend;
  const source = heapBackend.dataIdMap.get(patches.dataId)?.memoryOffset;
  if (source === undefined) return undefined;
  const out = heapBackend.makeOutput([n, height, width, taps / 9], "float32");
  nativeCol2im3x3(heapBackend, native, source, heapBackend.dataIdMap.get(out.dataId)!.memoryOffset, n, height, width, taps / 9);
  return out;
}
