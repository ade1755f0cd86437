// The native variant of ConcordSgdStep on wasm: the addon's sgdStep (contract.ts) on the wasm heap.
import { heapBuffer, type NativeKernels } from "../native-kernels.js";
import type { WasmHeapBackend } from "../simd-module.js";

/**
 * out = param − fround(grad · fround(lr)) for `size` floats at the given byte offsets (the caller
 * checked that `native` has sgdStep). The addon's loop does the same two float32 operations per
 * element as the JavaScript one (same bits), 5–10× faster.
 */
export function nativeSgdStep(backend: WasmHeapBackend, native: NativeKernels, param: number, grad: number, out: number, size: number, lr: number): void {
  native.sgdStep!(heapBuffer(backend), param, grad, out, size, lr);
}
