import * as tf from "@tensorflow/tfjs-core";
import { kernelOwner, replaceKernel } from "../../registry-journal.js";
import { nativeKernels } from "../native-kernels.js";
import { type SimdKernels, simdKernels, type WasmHeapBackend } from "../simd-module.js";
import { type WasmEntryModule, wasmEntry, writeShapePair } from "../wasm-entry.js";
import { nativeBatchMatMul } from "./native.js";

const OWNER = "fast:batch-mat-mul";

/**
 * Replaces the wasm backend's BatchMatMul kernel for *batched* products (a leading batch size > 1)
 * and transposed single products with a small f32x4 SIMD kernel (gemm.wat) that works in place on
 * the backend's heap. tfjs-wasm runs those through a scalar fallback (about 1.7 GFLOP/s here),
 * which made the rank-3 matMuls of batched meta-learning the largest cost of an iteration. Plain
 * rank-2 products keep XNNPACK (called directly, see directXnnpack), and large transposed rank-2 products are
 * transposed explicitly and then given to it. The result is the same product, only summed in a different order;
 * gradients are untouched (they are registered per kernel name and are matMuls themselves).
 * While native kernels are set (setNativeKernels), every float32 product with these batch shapes,
 * rank-2 ones included, is one call of the native sgemm instead (transposes included, no copies).
 * Idempotent; returns false when the wasm backend is not loaded in this process.
 */
export function installFastBatchMatMul(): boolean {
  if (kernelOwner("BatchMatMul", "wasm") === OWNER) return true;
  const original = tf.getKernel("BatchMatMul", "wasm");
  if (!original) return false;
  const originalFunc = original.kernelFunc;
  const kernelFunc: tf.KernelFunc = (args) => fastBatchMatMul(args, originalFunc) ?? (originalFunc(args) as tf.TensorInfo);
  replaceKernel({ ...original, kernelFunc }, OWNER);
  return true;
}

const LARGE_PRODUCT = 1 << 16;

function transposedThenXnnpack(args: Parameters<tf.KernelFunc>[0], originalFunc: tf.KernelFunc, backend: WasmHeapBackend, gemm: SimdKernels): tf.TensorInfo {
  const offset = (t: tf.TensorInfo) => backend.dataIdMap.get(t.dataId)!.memoryOffset;
  const plain = (t: tf.TensorInfo, transposed: boolean): tf.TensorInfo => {
    if (!transposed) return t;
    const [rows, cols] = t.shape as [number, number];
    const out = backend.makeOutput([cols, rows], "float32");
    gemm.transpose(offset(t), offset(out), rows, cols);
    return out;
  };
  const transposeA = Boolean(args.attrs?.["transposeA"]);
  const transposeB = Boolean(args.attrs?.["transposeB"]);
  const a = plain(args.inputs["a"] as tf.TensorInfo, transposeA);
  const b = plain(args.inputs["b"] as tf.TensorInfo, transposeB);
  const out = originalFunc({ inputs: { a, b }, backend: args.backend, attrs: { ...args.attrs, transposeA: false, transposeB: false } }) as tf.TensorInfo;
  if (transposeA) backend.disposeData(a.dataId);
  if (transposeB) backend.disposeData(b.dataId);
  return out;
}

/** The product, or undefined to let the original kernel handle the case. */
function fastBatchMatMul(args: Parameters<tf.KernelFunc>[0], originalFunc: tf.KernelFunc): tf.TensorInfo | undefined {
  const { inputs, backend, attrs } = args;
  const a = inputs["a"] as tf.TensorInfo;
  const b = inputs["b"] as tf.TensorInfo;
  const transposeA = Boolean(attrs?.["transposeA"]);
  const transposeB = Boolean(attrs?.["transposeB"]);
  if (a.dtype !== "float32" || b.dtype !== "float32" || a.shape.length < 2 || b.shape.length < 2) return undefined;
  const outerA = a.shape.slice(0, -2);
  const outerB = b.shape.slice(0, -2);
  const batchA = sizeOf(outerA);
  const batchB = sizeOf(outerB);
  const single = Math.max(batchA, batchB) <= 1;
  const native = nativeKernels();
  // A single product without transposes is XNNPACK's (fast) case, unless native GEMM is on.
  if (single && !transposeA && !transposeB && !native) return directXnnpack(backend as unknown as DirectBackend, a, b);
  // Same leading axes, or one side without any (broadcast of a single matrix).
  if (batchA > 1 && batchB > 1 && !sameShape(outerA, outerB)) return undefined;
  if ((batchA === 1 && outerA.length > outerB.length) || (batchB === 1 && outerB.length > outerA.length)) return undefined;
  const [rowsA, colsA] = a.shape.slice(-2) as [number, number];
  const [rowsB, colsB] = b.shape.slice(-2) as [number, number];
  const m = transposeA ? colsA : rowsA;
  const k = transposeA ? rowsA : colsA;
  const n = transposeB ? rowsB : colsB;
  if ((transposeB ? colsB : rowsB) !== k || m === 0 || n === 0 || k === 0) return undefined;

  const wasmBackend = backend as unknown as WasmHeapBackend;
  if (native) return nativeBatchMatMul(wasmBackend, native, a, b, { outerA, outerB, batchA, batchB, m, k, n, transposeA, transposeB });
  const gemm = simdKernels(wasmBackend);
  if (!gemm) return undefined;
  // A large transposed single product: transpose explicitly, then XNNPACK (tfjs-wasm runs transposed
  // products through its scalar loop, 10x slower).
  if (single && a.shape.length === 2 && b.shape.length === 2 && m * k * n >= LARGE_PRODUCT) {
    return transposedThenXnnpack(args, originalFunc, wasmBackend, gemm);
  }
  const offsetA = wasmBackend.dataIdMap.get(a.dataId)?.memoryOffset;
  const offsetB = wasmBackend.dataIdMap.get(b.dataId)?.memoryOffset;
  if (offsetA === undefined || offsetB === undefined) return undefined;

  const batch = Math.max(batchA, batchB);
  const outShape = [...(batchA >= batchB ? outerA : outerB), m, n];
  const out = wasmBackend.makeOutput(outShape, "float32");
  const offsetC = wasmBackend.dataIdMap.get(out.dataId)!.memoryOffset;
  // B is read as row-major [k × n]; a transposed B is first copied into that layout.
  let scratch = 0;
  let sourceB = offsetB;
  if (transposeB) {
    scratch = wasmBackend.wasm._malloc(batchB * k * n * 4);
    for (let i = 0; i < batchB; i++) gemm.transpose(offsetB + i * k * n * 4, scratch + i * k * n * 4, n, k);
    sourceB = scratch;
  }
  const strideAi = transposeA ? 1 : k;
  const strideAk = transposeA ? m : 1;
  const stepA = batchA > 1 ? m * k * 4 : 0;
  const stepB = batchB > 1 ? k * n * 4 : 0;
  for (let i = 0; i < batch; i++) {
    gemm.gemm(offsetA + i * stepA, sourceB + i * stepB, offsetC + i * m * n * 4, m, k, n, strideAi, strideAk);
  }
  if (scratch !== 0) wasmBackend.wasm._free(scratch);
  return out;
}

/** tfjs-wasm's exported BatchMatMul: (aId, aShape*, aRank, bId, bShape*, bRank, transposeA, transposeB, outId). */
type BatchMatMulEntry = (
  aId: number,
  aShape: number,
  aRank: number,
  bId: number,
  bShape: number,
  bRank: number,
  transposeA: number,
  transposeB: number,
  outId: number,
) => void;

export interface DirectBackend {
  readonly wasm: WasmEntryModule;
  readonly dataIdMap: { get(dataId: object): { id: number } | undefined };
  makeOutput(shape: number[], dtype: tf.DataType): tf.TensorInfo;
}

const batchMatMulEntries = new WeakMap<object, BatchMatMulEntry | undefined>();

/**
 * A rank-2 product without transposes: exactly the call tfjs-wasm's kernel makes (its C BatchMatMul,
 * XNNPACK's fully-connected operator, on [1, m, k] and [1, k, n] views of the same buffers) without
 * its JavaScript around it: two reshapes (reference counts up and down), two typed arrays per shape
 * and Emscripten's ccall. The same C call, so the same bytes; undefined (the original kernel) otherwise.
 */
export function directXnnpack(backend: DirectBackend, a: tf.TensorInfo, b: tf.TensorInfo): tf.TensorInfo | undefined {
  if (a.shape.length !== 2 || b.shape.length !== 2) return undefined;
  let entry = batchMatMulEntries.get(backend.wasm);
  if (entry === undefined) {
    entry = wasmEntry<BatchMatMulEntry>(backend.wasm, "BatchMatMul");
    batchMatMulEntries.set(backend.wasm, entry);
  }
  const aData = backend.dataIdMap.get(a.dataId);
  const bData = backend.dataIdMap.get(b.dataId);
  const [m, k] = a.shape as [number, number];
  const n = b.shape[1]!;
  if (!entry || !aData || !bData || b.shape[0] !== k || m * k * n === 0) return undefined;
  const out = backend.makeOutput([m, n], "float32");
  const [aShape, bShape] = writeShapePair(backend.wasm, [1, m, k], [1, k, n]);
  entry(aData.id, aShape, 3, bData.id, bShape, 3, 0, 0, backend.dataIdMap.get(out.dataId)!.id);
  return out;
}

function sizeOf(shape: readonly number[]): number {
  return shape.reduce((product, size) => product * size, 1);
}

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((size, i) => size === b[i]);
}
