import { ConcordError } from "@concord/core";
import { nativeProviderOf, setNativeProvider } from "../registry-journal.js";
import type { WasmHeapBackend } from "./simd-module.js";

/**
 * Native kernels working in place on the wasm backend's heap (implemented by @concord/backend-native's
 * addon; any object with these functions works; installed by installConcord({ native })). `buffer` is the WebAssembly.Memory's current
 * ArrayBuffer, every other pointer a byte offset into it; matrices are row-major float32.
 */
export interface NativeKernels {
  /** What computes the products, e.g. "OpenBLAS 0.3.21 … SkylakeX" (for reports). */
  readonly description: string;
  /**
   * For each i < batch: C_i[m×n] = op(A_i) · op(B_i), op(A) = A ([m×k]) or, with transposeA, Aᵀ
   * (A stored [k×m]); likewise B ([k×n], or stored [n×k]). Strides are bytes between consecutive
   * matrices of the batch; 0 broadcasts one matrix. Results must not depend on the thread count.
   */
  sgemm(
    buffer: ArrayBuffer,
    batch: number,
    m: number,
    n: number,
    k: number,
    transposeA: boolean,
    transposeB: boolean,
    a: number,
    strideA: number,
    b: number,
    strideB: number,
    c: number,
    strideC: number,
  ): void;
  /** out[(b, i, j), (h, w, ch)] = x[b, i + h − top, j + w − left, ch] (0 outside the image), NHWC, stride 1. */
  im2col(
    buffer: ArrayBuffer,
    x: number,
    out: number,
    n: number,
    height: number,
    width: number,
    c: number,
    oh: number,
    ow: number,
    kh: number,
    kw: number,
    top: number,
    left: number,
  ): void;
  /**
   * Optional: the max-pool gradient routing kernels (ConcordMaxPoolRoute, gather 0: out x-shaped,
   * upstream pooled; ConcordMaxPoolGather, gather 1: out pooled, upstream x-shaped) for pools whose
   * strides equal their kh × kw window, NHWC. Each window's maximum is the first position, in
   * row-major window order, whose value exceeds all before it; route writes zeros elsewhere.
   * Where {@link NativeKernels.maxPoolForward} is true, `gather` 2 pools x itself (out pooled, each
   * window's maximum; upstream unused) and returns true, or false without a usable result where x
   * holds a NaN or −0 or a window lies wholly in the padding (tfjs's MaxPool defines those differently).
   */
  maxPoolRoute?(
    buffer: ArrayBuffer,
    x: number,
    upstream: number,
    out: number,
    n: number,
    height: number,
    width: number,
    c: number,
    oh: number,
    ow: number,
    kh: number,
    kw: number,
    top: number,
    left: number,
    gather: number,
  ): boolean | undefined;
  /** True when maxPoolRoute takes `gather` 2: MaxPool itself. */
  readonly maxPoolForward?: boolean;
  /**
   * Optional: ConcordBatchNorm (`BATCH_NORM_KERNEL`) on the heap. x and out are [rows, channels] (rows = N·H·W),
   * scale and offset [channels]; relu is 0 or 1. Deterministic (float64 moments, fixed order).
   * Where {@link NativeKernels.batchNormMoments} is true, a `moments` Float64Array of 2 · channels
   * receives each channel's mean, then its inverse standard deviation 1/√(σ² + ε).
   */
  batchNorm?(
    buffer: ArrayBuffer,
    x: number,
    scale: number,
    offset: number,
    out: number,
    rows: number,
    channels: number,
    epsilon: number,
    relu: number,
    moments?: Float64Array,
  ): void;
  /**
   * True when batchNorm and batchNormGrad take the trailing `moments` argument: batchNormGrad given
   * what batchNorm wrote for the same x and epsilon skips its own pass over x for them (same bits).
   */
  readonly batchNormMoments?: boolean;
  /**
   * Optional: ConcordBatchNormGrad (`BATCH_NORM_GRAD_KERNEL`) on the heap: dx [rows, channels], dScale and dOffset
   * [channels]; `moments` as batchNorm wrote them for this x and epsilon, or undefined.
   */
  batchNormGrad?(
    buffer: ArrayBuffer,
    x: number,
    scale: number,
    offset: number,
    dy: number,
    dx: number,
    dScale: number,
    dOffset: number,
    rows: number,
    channels: number,
    epsilon: number,
    relu: number,
    moments?: Float64Array,
  ): void;
  /**
   * Optional: ConcordSgdStep (`SGD_STEP_KERNEL`) on the heap, out = param − fround(grad · fround(lr)) for `size`
   * float32 elements, each operation rounded to float32 (the same bits as the JavaScript kernel).
   */
  sgdStep?(buffer: ArrayBuffer, param: number, grad: number, out: number, size: number, lr: number): void;
  /** Optional: out[r, c] = x[r, c] + bias[c] in float32 for x and out [rows, channels] (tf.add of a bias). */
  addBias?(buffer: ArrayBuffer, x: number, bias: number, out: number, rows: number, channels: number): void;
}

/** The native kernels the wasm kernel replacements use now, or undefined (wasm only). */
export function nativeKernels(): NativeKernels | undefined {
  return nativeProviderOf<NativeKernels>();
}

/**
 * Makes the wasm kernel replacements (MatMul/BatchMatMul, Conv2D, Conv2DBackpropInput through
 * Conv2D, ConcordConv2DBackpropFilter) call `kernels`; undefined turns that off. Through the registry
 * journal: uninstallConcord() turns it off too. Installed by installConcord({ native }).
 */
export function setNativeKernels(kernels: NativeKernels | undefined): void {
  if (kernels !== undefined) expectNativeKernels(kernels);
  setNativeProvider(kernels);
}

/** The wasm backend's heap as the addon reads it: the memory's current buffer (it changes when the heap grows). */
export function heapBuffer(backend: WasmHeapBackend): ArrayBuffer {
  return backend.wasm.asm.memory.buffer;
}

function expectNativeKernels(kernels: NativeKernels): void {
  const missing = (["sgemm", "im2col"] as const).find((name) => typeof kernels?.[name] !== "function");
  if (missing !== undefined) {
    throw new ConcordError(`expected an object with ${missing}() (NativeKernels, e.g. loadNativeKernels() from @concord/backend-native)`, { field: "native" });
  }
}
