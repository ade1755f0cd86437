// The native variants of ConcordIm2Col3x3's and ConcordCol2Im3x3's wasm kernels: the addon's im2col
// (conv2d-im2col/contract.ts) and col2im3x3 (contract.ts).
import { heapBuffer, type NativeKernels } from "../native-kernels.js";
import type { WasmHeapBackend } from "../simd-module.js";

/** The patches of x ([n, height, width, c] at byte offset `source`) into `target`: im2col with a 3×3 window, padding 1 on each side. */
export function nativeIm2col3x3(
  heapBackend: WasmHeapBackend,
  native: NativeKernels,
  source: number,
  target: number,
  n: number,
  height: number,
  width: number,
  c: number,
): void {
  native.im2col(heapBuffer(heapBackend), source, target, n, height, width, c, height, width, 3, 3, 1, 1);
}

/** col2im of `source` ([n, height, width, 9·c] patches at that byte offset) into `target` ([n, height, width, c]) by the addon (the caller checked it has col2im3x3). */
export function nativeCol2im3x3(
  heapBackend: WasmHeapBackend,
  native: NativeKernels,
  source: number,
  target: number,
  n: number,
  height: number,
  width: number,
  c: number,
): void {
  native.col2im3x3!(heapBuffer(heapBackend), source, target, n, height, width, c);
}
