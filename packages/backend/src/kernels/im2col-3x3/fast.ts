import * as tf from "@tensorflow/tfjs-core";
import { kernelOwner, replaceKernel } from "../../registry-journal.js";
import { nativeKernels } from "../native-kernels.js";
import { simdKernels, type WasmHeapBackend } from "../simd-module.js";
import { IM2COL_3X3_KERNEL } from "./contract.js";
import { nativeIm2col3x3 } from "./native.js";

const OWNER = "fast:im2col-3x3";

/**
 * Replaces the wasm implementation of Concord's 3×3 im2col kernel (IM2COL_3X3_KERNEL; the reference,
 * reference.ts, is a JavaScript loop over the heap) by the im2col the Conv2D replacement uses: the native addon's when
 * native kernels are set, else gemm.wat's (one contiguous copy per row and filter row). The same
 * values (a copy); the kernel's gradient (col2im) is unchanged.
 */
export function installFastIm2col3x3(): boolean {
  if (kernelOwner(IM2COL_3X3_KERNEL, "wasm") === OWNER) return true;
  const original = tf.getKernel(IM2COL_3X3_KERNEL, "wasm");
  if (!original) return false;
  const originalFunc = original.kernelFunc;
  const kernelFunc: tf.KernelFunc = (args) => fastIm2col(args) ?? (originalFunc(args) as tf.TensorInfo);
  replaceKernel({ ...original, kernelFunc }, OWNER);
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
