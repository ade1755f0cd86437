// The native variant of the wasm BatchMatMul: the addon's sgemm (contract.ts) on the wasm heap.
import type * as tf from "@tensorflow/tfjs-core";
import { heapBuffer, type NativeKernels } from "../native-kernels.js";
import type { WasmHeapBackend } from "../simd-module.js";

/** The product's shape, as fast.ts worked it out (batch sizes and leading axes of both sides, m × k · k × n, transposes). */
export interface ProductShape {
  readonly outerA: readonly number[];
  readonly outerB: readonly number[];
  readonly batchA: number;
  readonly batchB: number;
  readonly m: number;
  readonly k: number;
  readonly n: number;
  readonly transposeA: boolean;
  readonly transposeB: boolean;
}

/** The whole (batched, possibly transposed, possibly broadcast) product as one native sgemm call. */
export function nativeBatchMatMul(
  backend: WasmHeapBackend,
  native: NativeKernels,
  a: tf.TensorInfo,
  b: tf.TensorInfo,
  shape: ProductShape,
): tf.TensorInfo | undefined {
  const { outerA, outerB, batchA, batchB, m, k, n, transposeA, transposeB } = shape;
  const offsetA = backend.dataIdMap.get(a.dataId)?.memoryOffset;
  const offsetB = backend.dataIdMap.get(b.dataId)?.memoryOffset;
  if (offsetA === undefined || offsetB === undefined) return undefined;
  const out = backend.makeOutput([...(batchA >= batchB ? outerA : outerB), m, n], "float32");
  const offsetC = backend.dataIdMap.get(out.dataId)!.memoryOffset;
  const stepA = batchA > 1 ? m * k * 4 : 0;
  const stepB = batchB > 1 ? k * n * 4 : 0;
  native.sgemm(heapBuffer(backend), Math.max(batchA, batchB), m, n, k, transposeA, transposeB, offsetA, stepA, offsetB, stepB, offsetC, m * n * 4);
  return out;
}
