import { ConcordError } from "@concord/core";
import { nativeProviderOf, setNativeProvider } from "../registry-journal.js";
import { NATIVE_SGEMM, type NativeSgemm } from "./batch-mat-mul/contract.js";
import { NATIVE_BATCH_NORM, type NativeBatchNorm } from "./batch-norm/contract.js";
import { NATIVE_IM2COL, type NativeIm2col } from "./conv2d-im2col/contract.js";
import { NATIVE_ADD_BIAS, type NativeAddBias } from "./direct-binary/contract.js";
import { NATIVE_COL2IM_3X3, type NativeCol2im3x3 } from "./im2col-3x3/contract.js";
import { NATIVE_MAX_POOL_ROUTE, type NativeMaxPoolRoute } from "./max-pool-route/contract.js";
import type { NativeMemberKinds } from "./native-members.js";
import { NATIVE_SGD_STEP, type NativeSgdStep } from "./sgd-step/contract.js";
import type { WasmHeapBackend } from "./simd-module.js";

/**
 * Native kernels working in place on the wasm backend's heap (implemented by @concord/backend-native's
 * addon; any object with these functions works; installed by installConcord({ native })). `buffer` is
 * the WebAssembly.Memory's current ArrayBuffer, every other pointer a byte offset into it; matrices
 * are row-major float32. Each function is declared in the contract.ts of the kernel folder that owns
 * it; sgemm and im2col are required, the others optional (a kernel without its function keeps its
 * wasm path).
 */
export interface NativeKernels
  extends NativeSgemm,
    NativeIm2col,
    Partial<NativeMaxPoolRoute>,
    Partial<NativeBatchNorm>,
    Partial<NativeSgdStep>,
    Partial<NativeAddBias>,
    Partial<NativeCol2im3x3> {
  /** What computes the products, e.g. "OpenBLAS 0.3.21 … SkylakeX" (for reports). */
  readonly description: string;
}

/** The members every NativeKernels has. */
const REQUIRED_NATIVE_MEMBERS = { ...NATIVE_SGEMM, ...NATIVE_IM2COL } as const;

/**
 * Every member of NativeKernels but its description, by name: "function" or "flag" (the list of the
 * kernel folders' contracts, checked against the interface by the compiler). @concord/backend-native's
 * loader takes exactly these from its addon.
 */
export const NATIVE_KERNEL_MEMBERS = {
  ...REQUIRED_NATIVE_MEMBERS,
  ...NATIVE_MAX_POOL_ROUTE,
  ...NATIVE_BATCH_NORM,
  ...NATIVE_SGD_STEP,
  ...NATIVE_ADD_BIAS,
  ...NATIVE_COL2IM_3X3,
} as const satisfies NativeMemberKinds<Omit<NativeKernels, "description">>;

/** The native kernels the wasm kernel replacements use now, or undefined (wasm only). */
export function nativeKernels(): NativeKernels | undefined {
  return nativeProviderOf<NativeKernels>();
}

/**
 * Makes the wasm kernels with a native variant (each kernel folder's native.ts) call `kernels`;
 * undefined turns that off. Through the registry
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
  const missing = (Object.keys(REQUIRED_NATIVE_MEMBERS) as (keyof typeof REQUIRED_NATIVE_MEMBERS)[]).find((name) => typeof kernels?.[name] !== "function");
  if (missing !== undefined) {
    throw new ConcordError(`expected an object with ${missing}() (NativeKernels, e.g. loadNativeKernels() from @concord/backend-native)`, { field: "native" });
  }
}
