// The native variant of ConcordIm2Col3x3's wasm kernel: the addon's im2col (conv2d-im2col/contract.ts).
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
