import { ConcordError, type NativeKernels } from "@concord/core";
import { nativeProviderOf, setNativeProvider } from "../registry-journal.js";
import type { WasmHeapBackend } from "./simd-module.js";

export type { NativeKernels };

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
