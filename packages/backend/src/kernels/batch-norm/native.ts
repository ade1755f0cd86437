// The native variant of ConcordBatchNorm, ConcordBatchNormGrad and ConcordBatchNormGradGrad on wasm:
// the addon's batchNorm, batchNormGrad and batchNormGradGrad (contract.ts) on the wasm heap, with the
// forward's moments kept for the gradients of the same x.
import type { TensorInfo } from "@tensorflow/tfjs-core";
import { heapBuffer, type NativeKernels } from "../native-kernels.js";
import type { WasmHeapBackend } from "../simd-module.js";

/**
 * Moments the native forward kernel computed, by the dataId of the x they belong to (a dataId's
 * values never change; the gradient's saved x shares the forward's dataId). The backward kernel of
 * the same x and ε reuses them instead of a pass over x (batchNormMoments: the same bits).
 */
const nativeMoments = new WeakMap<object, { readonly epsilon: number; readonly moments: Float64Array }>();

function savedMoments(x: TensorInfo, epsilon: number, channels: number): Float64Array | undefined {
  const saved = nativeMoments.get(x.dataId);
  return saved !== undefined && saved.epsilon === epsilon && saved.moments.length === 2 * channels ? saved.moments : undefined;
}

/**
 * y = relu?(γ·(x − μ)·s + β) by the addon's batchNorm (the caller checked that `native` has it), at
 * the given byte offsets; where the addon takes the moments argument, the moments are kept for the
 * gradient of the same x.
 */
export function nativeBatchNorm(
  wasm: WasmHeapBackend,
  native: NativeKernels,
  at: { x: number; scale: number; offset: number; out: number },
  x: TensorInfo,
  rows: number,
  channels: number,
  epsilon: number,
  relu: boolean,
): void {
  const args = [heapBuffer(wasm), at.x, at.scale, at.offset, at.out, rows, channels, epsilon, relu ? 1 : 0] as const;
  if (native.batchNormMoments) {
    const moments = new Float64Array(2 * channels);
    native.batchNorm!(...args, moments);
    nativeMoments.set(x.dataId, { epsilon, moments });
  } else {
    native.batchNorm!(...args); // a provider without the moments argument may count its arguments
  }
}

/** dx, dγ, dβ by the addon's batchNormGrad (the caller checked that `native` has it), reusing the forward's moments of this x where kept. */
export function nativeBatchNormGrad(
  wasm: WasmHeapBackend,
  native: NativeKernels,
  at: { x: number; scale: number; offset: number; dy: number; dx: number; dScale: number; dOffset: number },
  x: TensorInfo,
  rows: number,
  channels: number,
  epsilon: number,
  relu: boolean,
): void {
  const moments = native.batchNormMoments ? savedMoments(x, epsilon, channels) : undefined;
  const args = [heapBuffer(wasm), at.x, at.scale, at.offset, at.dy, at.dx, at.dScale, at.dOffset, rows, channels, epsilon, relu ? 1 : 0] as const;
  if (moments) native.batchNormGrad!(...args, moments);
  else native.batchNormGrad!(...args);
}

/**
 * dX, dγ, dDy of ConcordBatchNormGradGrad by the addon's batchNormGradGrad (the caller checked that
 * `native` has it); a, b, e are byte offsets or −1 (absent). Reuses the forward's moments of this x
 * where kept (the same bits as without).
 */
export function nativeBatchNormGradGrad(
  wasm: WasmHeapBackend,
  native: NativeKernels,
  at: { x: number; scale: number; offset: number; dy: number; a: number; b: number; e: number; dX: number; dScale: number; dDy: number },
  x: TensorInfo,
  rows: number,
  channels: number,
  epsilon: number,
  relu: boolean,
): void {
  const moments = native.batchNormMoments ? savedMoments(x, epsilon, channels) : undefined;
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
    moments,
  );
}
