// The wasm SIMD path of ConcordBatchNorm, ConcordBatchNormGrad and ConcordBatchNormGradGrad: gemm.wat's
// bn_* and bn2_* passes over the heap, with reference.ts's per-channel finishing steps in between
// (the same arithmetic, same bits).
import type { SimdKernels, WasmHeapBackend } from "../simd-module.js";
import {
  CHANNEL_ARRAYS,
  type ChannelArrays,
  channelArrays,
  finishBackward,
  finishMoments,
  GRAD_GRAD_ARRAYS,
  gradGradArrays,
  gradGradCoefficients,
} from "./reference.js";

/**
 * The wasm heap version of both kernels: gemm.wat's SIMD passes with the per-channel finishing in
 * JavaScript (scratch from the wasm allocator). `dy`, `dx`, `dScale`, `dOffset` are byte offsets
 * for the backward kernel, undefined for the forward one (which writes `out`).
 */
export function wasmBatchNorm(
  wasm: WasmHeapBackend,
  kernels: SimdKernels,
  p: { x: number; scale: number; offset: number; rows: number; channels: number; epsilon: number; relu: boolean },
  forwardOut: number | undefined,
  backward?: { dy: number; dx: number; dScale: number; dOffset: number },
): void {
  const { rows, channels } = p;
  const scratch = wasm.wasm._malloc(channels * 8 * CHANNEL_ARRAYS);
  try {
    // Views after the allocation (which may grow the heap).
    const buffer = wasm.wasm.HEAP32.buffer;
    const arrays = channelArrays(buffer, scratch, channels);
    const at = (name: keyof ChannelArrays) => arrays[name].byteOffset;
    const floats = (offset: number, length: number) => new Float32Array(buffer, offset, length);
    kernels.bn_moments(p.x, rows, channels, at("sum"), at("squares"));
    const { mean, inverseStd } = finishMoments(floats(p.x, channels), rows, floats(p.scale, channels), floats(p.offset, channels), p.epsilon, arrays);
    const relu = p.relu ? 1 : 0;
    if (!backward) {
      kernels.bn_forward(p.x, forwardOut!, at("a"), at("b"), rows, channels, relu);
      return;
    }
    kernels.bn_sums(p.x, backward.dy, at("a"), at("b"), rows, channels, relu, at("sumG"), at("sumGX"));
    finishBackward(rows, mean, inverseStd, arrays, floats(backward.dScale, channels), floats(backward.dOffset, channels));
    kernels.bn_dx(p.x, backward.dy, at("a"), at("b"), at("k1"), at("k2"), at("k3"), backward.dx, rows, channels, relu);
  } finally {
    wasm.wasm._free(scratch);
  }
}

/**
 * ConcordBatchNormGradGrad on the wasm heap: gemm.wat's bn_moments, bn2_sums and bn2_outputs with
 * reference.ts's per-channel steps between them. Byte offsets; `a`, `b`, `e` undefined where absent.
 */
export function wasmBatchNormGradGrad(
  wasm: WasmHeapBackend,
  kernels: SimdKernels,
  p: { x: number; scale: number; offset: number; dy: number; rows: number; channels: number; epsilon: number; relu: boolean },
  upstream: { a?: number | undefined; b?: number | undefined; e?: number | undefined },
  out: { dX: number; dScale: number; dDy: number },
): void {
  const { rows, channels } = p;
  const scratch = wasm.wasm._malloc(channels * 8 * (CHANNEL_ARRAYS + GRAD_GRAD_ARRAYS));
  try {
    // Views after the allocation (which may grow the heap).
    const buffer = wasm.wasm.HEAP32.buffer;
    const arrays = channelArrays(buffer, scratch, channels);
    const state = gradGradArrays(buffer, scratch + channels * 8 * CHANNEL_ARRAYS, channels);
    const floats = (offset: number, length: number) => new Float32Array(buffer, offset, length);
    kernels.bn_moments(p.x, rows, channels, arrays.sum.byteOffset, arrays.squares.byteOffset);
    const { mean, inverseStd } = finishMoments(floats(p.x, channels), rows, floats(p.scale, channels), floats(p.offset, channels), p.epsilon, arrays);
    state.mean.set(mean);
    state.inverseStd.set(inverseStd);
    const at = (name: keyof typeof state) => state[name].byteOffset;
    const relu = p.relu ? 1 : 0;
    const hasA = upstream.a === undefined ? 0 : 1;
    const up = upstream.a ?? 0;
    const [a, b] = [arrays.a.byteOffset, arrays.b.byteOffset];
    kernels.bn2_sums(
      p.x,
      p.dy,
      up,
      hasA,
      at("mean"),
      at("inverseStd"),
      a,
      b,
      rows,
      channels,
      relu,
      at("sumG"),
      at("sumGX"),
      at("sumA"),
      at("sumAX"),
      at("sumAG"),
    );
    const optional = (offset: number | undefined) => (offset === undefined ? undefined : floats(offset, channels));
    gradGradCoefficients(rows, floats(p.scale, channels), optional(upstream.b), optional(upstream.e), state, floats(out.dScale, channels));
    kernels.bn2_outputs(
      p.x,
      p.dy,
      up,
      hasA,
      at("mean"),
      at("inverseStd"),
      a,
      b,
      at("k1"),
      at("k2"),
      at("k3"),
      at("k4"),
      at("l1"),
      at("l2"),
      at("l3"),
      out.dX,
      out.dDy,
      rows,
      channels,
      relu,
    );
  } finally {
    wasm.wasm._free(scratch);
  }
}
