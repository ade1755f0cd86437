// The native variant of ConcordBatchNorm, ConcordBatchNormGrad and ConcordBatchNormGradGrad on wasm:
// the addon's batchNorm, batchNormGrad and batchNormGradGrad (contract.ts) on the wasm heap, with the
// forward's moments kept for the gradients of the same x.
import type { TensorInfo } from "@tensorflow/tfjs-core";
import { heapBuffer, type NativeKernels } from "../native-kernels.js";
import type { WasmHeapBackend } from "../simd-module.js";

/**
 * Moments the native forward kernel computed, by the dataId of the x they belong to (a dataId's
 * values never change; the gradient's saved x shares the forward's dataId). The backward kernel of
 * the same x, ε and groups reuses them instead of a pass over x (batchNormMoments: the same bits).
 * One array for all blocks: block g's 2·C values (means, inverse stds) at 2·g·C.
 */
const nativeMoments = new WeakMap<object, { readonly epsilon: number; readonly groups: number; readonly moments: Float64Array }>();

/** Block g's moments (a view: the addon reads a typed array's data from its byteOffset). */
function blockMoments(moments: Float64Array, g: number, channels: number): Float64Array {
  return moments.subarray(2 * g * channels, 2 * (g + 1) * channels);
}

function savedMoments(x: TensorInfo, epsilon: number, groups: number, channels: number): Float64Array | undefined {
  const saved = nativeMoments.get(x.dataId);
  return saved !== undefined && saved.epsilon === epsilon && saved.groups === groups && saved.moments.length === 2 * groups * channels
    ? saved.moments
    : undefined;
}

/**
 * Byte offset of block g of an operand at `offset` on the wasm heap: an x-like (`long`) operand
 * advances one block of rows·channels floats per block, a scale-like one one row of channels.
 */
export function blockOffset(offset: number, g: number, rows: number, channels: number, long: boolean): number {
  return offset + 4 * g * (long ? rows * channels : channels);
}

/** blockOffset of every operand in `at` (those in blockKeys x-like); an absent upstream stays −1. */
function shifted<T extends Record<string, number>>(at: T, blockKeys: readonly (keyof T)[], g: number, rows: number, channels: number): T {
  const out: Record<string, number> = { ...at };
  for (const key of Object.keys(at)) {
    if (at[key]! >= 0) out[key] = blockOffset(at[key]!, g, rows, channels, blockKeys.includes(key));
  }
  return out as T;
}

/**
 * y = relu?(γ·(x − μ)·s + β) by the addon's batchNorm (the caller checked that `native` has it), at
 * the given byte offsets, one call per block of `rows` rows; where the addon takes the moments
 * argument, the moments are kept for the gradient of the same x.
 */
export function nativeBatchNorm(
  wasm: WasmHeapBackend,
  native: NativeKernels,
  base: { x: number; scale: number; offset: number; out: number },
  x: TensorInfo,
  rows: number,
  channels: number,
  epsilon: number,
  relu: boolean,
  groups: number,
): void {
  const moments = native.batchNormMoments ? new Float64Array(2 * groups * channels) : undefined;
  for (let g = 0; g < groups; g++) {
    const at = shifted(base, ["x", "out"], g, rows, channels);
    const args = [heapBuffer(wasm), at.x, at.scale, at.offset, at.out, rows, channels, epsilon, relu ? 1 : 0] as const;
    if (moments) native.batchNorm!(...args, blockMoments(moments, g, channels));
    else native.batchNorm!(...args); // a provider without the moments argument may count its arguments
  }
  if (moments) nativeMoments.set(x.dataId, { epsilon, groups, moments });
}

/** dx, dγ, dβ by the addon's batchNormGrad (the caller checked that `native` has it) per block, reusing the forward's moments of this x where kept. */
export function nativeBatchNormGrad(
  wasm: WasmHeapBackend,
  native: NativeKernels,
  base: { x: number; scale: number; offset: number; dy: number; dx: number; dScale: number; dOffset: number },
  x: TensorInfo,
  rows: number,
  channels: number,
  epsilon: number,
  relu: boolean,
  groups: number,
): void {
  const moments = native.batchNormMoments ? savedMoments(x, epsilon, groups, channels) : undefined;
  for (let g = 0; g < groups; g++) {
    const at = shifted(base, ["x", "dy", "dx"], g, rows, channels);
    const args = [heapBuffer(wasm), at.x, at.scale, at.offset, at.dy, at.dx, at.dScale, at.dOffset, rows, channels, epsilon, relu ? 1 : 0] as const;
    if (moments) native.batchNormGrad!(...args, blockMoments(moments, g, channels));
    else native.batchNormGrad!(...args);
  }
}

/**
 * dX, dγ, dDy of ConcordBatchNormGradGrad by the addon's batchNormGradGrad (the caller checked that
 * `native` has it) per block; a, b, e are byte offsets or −1 (absent). Reuses the forward's moments
 * of this x where kept (the same bits as without).
 */
export function nativeBatchNormGradGrad(
  wasm: WasmHeapBackend,
  native: NativeKernels,
  base: { x: number; scale: number; offset: number; dy: number; a: number; b: number; e: number; dX: number; dScale: number; dDy: number },
  x: TensorInfo,
  rows: number,
  channels: number,
  epsilon: number,
  relu: boolean,
  groups: number,
): void {
  const moments = native.batchNormMoments ? savedMoments(x, epsilon, groups, channels) : undefined;
  for (let g = 0; g < groups; g++) {
    const at = shifted(base, ["x", "dy", "a", "dX", "dDy"], g, rows, channels);
    native.batchNormGradGrad!(
      heapBuffer(wasm),
      at.x,
      at.scale,
      at.offset,
      at.dy,
      at.a,
      at.b,
      at.e,
      at.dX,
      at.dScale,
      at.dDy,
      rows,
      channels,
      epsilon,
      relu ? 1 : 0,
      moments ? blockMoments(moments, g, channels) : undefined,
    );
  }
}
