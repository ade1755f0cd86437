import * as tf from "@tensorflow/tfjs-core";
import { kernelOwner, replaceKernel } from "../../registry-journal.js";
import { simdKernels, type WasmHeapBackend } from "../simd-module.js";

const OWNER = "fast:leading-reductions";

/**
 * Replaces the wasm backend's Sum and Mean kernels when they reduce *leading* axes of a float32
 * tensor (e.g. [N, H, W, C] over N, H, W: batch-norm moments and the gradient of every per-channel
 * bias), with f32x4 column sums on the heap. tfjs-wasm first transposes the reduced axes to the end
 * (a full copy); in the Omniglot CNN these reductions took longer than the convolutions of the same
 * layers. Same values up to float rounding (rows are added in order); other reductions go to the
 * original kernels, and the gradients (registered per kernel name) are unchanged.
 * Leading axes after some outer axes count too (e.g. [T, N, C] over N: per-task batch-norm moments
 * and bias gradients of batched execution): one column sum per outer index.
 */
export function installFastLeadingReductions(): boolean {
  if (kernelOwner("Sum", "wasm") === OWNER) return true;
  const sum = tf.getKernel("Sum", "wasm");
  const mean = tf.getKernel("Mean", "wasm");
  if (!sum || !mean) return false;
  for (const [original, isMean] of [
    [sum, false],
    [mean, true],
  ] as const) {
    const originalFunc = original.kernelFunc;
    const kernelFunc: tf.KernelFunc = (args) => leadingReduction(args, isMean) ?? (originalFunc(args) as tf.TensorInfo);
    replaceKernel({ ...original, kernelFunc }, OWNER);
  }
  return true;
}

function leadingReduction({ inputs, backend, attrs }: Parameters<tf.KernelFunc>[0], isMean: boolean): tf.TensorInfo | undefined {
  const x = inputs["x"] as tf.TensorInfo;
  if (x.dtype !== "float32" || x.shape.length < 2) return undefined;
  const axes = tf.util.parseAxisParam(attrs?.["axis"] as number | number[], x.shape);
  const sorted = [...new Set(axes)].sort((a, b) => a - b);
  // Reduced axes: one contiguous run [first, last] that leaves at least one axis after it.
  const first = sorted[0] ?? 0;
  const last = sorted[sorted.length - 1] ?? 0;
  const contiguous = sorted.length > 0 && last < x.shape.length - 1 && sorted.every((axis, i) => axis === first + i);
  if (!contiguous) return undefined;
  const outer = x.shape.slice(0, first).reduce((a, b) => a * b, 1);
  const rows = x.shape.slice(first, last + 1).reduce((a, b) => a * b, 1);
  const cols = x.shape.slice(last + 1).reduce((a, b) => a * b, 1);
  if (outer === 0 || rows === 0 || cols === 0) return undefined;
  const wasmBackend = backend as unknown as WasmHeapBackend;
  const kernels = simdKernels(wasmBackend);
  const source = wasmBackend.dataIdMap.get(x.dataId)?.memoryOffset;
  if (!kernels || source === undefined) return undefined;
  const keepDims = Boolean(attrs?.["keepDims"]);
  const reduced = (i: number) => i >= first && i <= last;
  const outShape = keepDims ? x.shape.map((size, i) => (reduced(i) ? 1 : size)) : x.shape.filter((_, i) => !reduced(i));
  const out = wasmBackend.makeOutput(outShape, "float32");
  const target = wasmBackend.dataIdMap.get(out.dataId)!.memoryOffset;
  for (let o = 0; o < outer; o++) {
    kernels.column_sums(source + o * rows * cols * 4, target + o * cols * 4, rows, cols, isMean ? 1 / rows : 1);
  }
  return out;
}
