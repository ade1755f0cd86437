import { ConcordError } from "@concord/core";
import { nativeProviderOf, setNativeProvider } from "../registry-journal.js";
import type { WasmHeapBackend } from "./simd-module.js";

/**
 * Native kernels working in place on the wasm backend's heap (implemented by @concord/backend-native's
 * addon; any object with these functions works). `buffer` is the WebAssembly.Memory's current
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
  im2col(buffer: ArrayBuffer, x: number, out: number, n: number, height: number, width: number, c: number, oh: number, ow: number, kh: number, kw: number, top: number, left: number): void;
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
