import * as tf from "@tensorflow/tfjs-core";
import { kernelOwner, replaceKernel } from "../registry-journal.js";
import { simdKernels, type WasmHeapBackend } from "./simd-module.js";

const OWNER = "fast:leading-reductions";

/**
 * Replaces the wasm backend's Sum and Mean kernels when they reduce *leading* axes of a float32
 * tensor (e.g. [N, H, W, C] over N, H, W: batch-norm moments and the gradient of every per-channel
 * bias), with f32x4 column sums on the heap. tfjs-wasm first transposes the reduced axes to the end
 * (a full copy); in the Omniglot CNN these reductions took longer than the convolutions of the same
 * layers. Same values up to float rounding (rows are added in order); other reductions go to the
 * original kernels, and the gradients (registered per kernel name) are unchanged.
 */
export function installFastLeadingReductions(): boolean {
  if (kernelOwner("Sum", "wasm") === OWNER) return true;
  const sum = tf.getKernel("Sum", "wasm");
  const mean = tf.getKernel("Mean", "wasm");
  if (!sum || !mean) return false;
  for (const [original, isMean] of [[sum, false], [mean, true]] as const) {
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
  const leading = sorted.length > 0 && sorted.length < x.shape.length && sorted.every((axis, i) => axis === i);
  if (!leading) return undefined;
  const rows = x.shape.slice(0, sorted.length).reduce((a, b) => a * b, 1);
  const cols = x.shape.slice(sorted.length).reduce((a, b) => a * b, 1);
  if (rows === 0 || cols === 0) return undefined;
  const wasmBackend = backend as unknown as WasmHeapBackend;
  const kernels = simdKernels(wasmBackend);
  const source = wasmBackend.dataIdMap.get(x.dataId)?.memoryOffset;
  if (!kernels || source === undefined) return undefined;
  const keepDims = Boolean(attrs?.["keepDims"]);
  const outShape = keepDims ? x.shape.map((size, i) => (i < sorted.length ? 1 : size)) : x.shape.slice(sorted.length);
  const out = wasmBackend.makeOutput(outShape, "float32");
  kernels.column_sums(source, wasmBackend.dataIdMap.get(out.dataId)!.memoryOffset, rows, cols, isMean ? 1 / rows : 1);
  return out;
}
