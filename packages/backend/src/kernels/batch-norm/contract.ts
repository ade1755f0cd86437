// ConcordBatchNorm and ConcordBatchNormGrad: transductive batch normalisation (+ ReLU) of one NHWC
// float32 tensor and its gradient, one kernel each way. Names, attributes and formulas in
// @concord/core: @concord/models' convNet runs them by name when registered. The gradient of
// ConcordBatchNormGrad (second order) is ConcordBatchNormGradGrad, named here only: no model calls
// it, only this folder's gradient.ts.
import { BATCH_NORM_GRAD_KERNEL, BATCH_NORM_KERNEL, type BatchNormAttrs } from "@concord/core";
import type { NativeMemberKinds } from "../native-members.js";

export { BATCH_NORM_GRAD_KERNEL, BATCH_NORM_KERNEL, type BatchNormAttrs };

/**
 * The gradient of {@link BATCH_NORM_GRAD_KERNEL} in one kernel (cpu and wasm; native on wasm).
 * Inputs `{ x, scale, offset, dy }` as that kernel's, and its outputs' upstream gradients
 * `a` (of dx, shaped like x), `b` (of dScale) and `e` (of dOffset), both shaped like scale ([C], or
 * [groups, C]), each optional (absent: zero); the same attributes (groups: each block of N/groups
 * images on its own, as the kernel run on that block alone). Per channel over M = N·H·W rows (per
 * block: (N/groups)·H·W), with x̂ = (x − μ)·s,
 * s = 1/√(σ² + ε), mask = (γx̂ + β > 0) when relu (else 1), g = mask·dy,
 * P(v) = v − mean(v) − x̂·mean(v·x̂), outputs `[dX, dScale, dDy]`:
 *
 *   dDy    = mask·(γ·s·P(a) + b·x̂ + e)
 *   dScale = s·Σ a·P(g)
 *   dX     = s·b·P(g) − γs²·[mean(a·x̂)(g − ḡ) + mean(g·x̂)(a − ā) + x̂·(mean(a·g) − ā·ḡ − 3·mean(a·x̂)·mean(g·x̂))]
 *
 * (the gradient of offset is zero: it reaches dx, dγ, dβ only through the piecewise-constant mask).
 * Sums in float64 in row order: deterministic, the same bits on every call and thread. It has no
 * gradient of its own: gradient.ts runs it only while no gradient tape records kernels.
 */
export const BATCH_NORM_GRAD_GRAD_KERNEL = "ConcordBatchNormGradGrad";

/** The native batch norm (see native-kernels.ts for the heap convention). */
export interface NativeBatchNorm {
  /**
   * ConcordBatchNorm on the heap, one block: x and out are [rows, channels] (rows = N·H·W, or one
   * block's (N/groups)·H·W: the kernels call it per block at shifted offsets), scale and offset
   * [channels]; relu is 0 or 1. Deterministic (float64 moments, fixed order). Where
   * {@link NativeBatchNorm.batchNormMoments} is true, a `moments` Float64Array of 2 · channels
   * receives each channel's mean, then its inverse standard deviation 1/√(σ² + ε).
   */
  batchNorm(
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
   * ConcordBatchNormGrad on the heap: dx [rows, channels], dScale and dOffset [channels]; `moments`
   * as batchNorm wrote them for this x and epsilon, or undefined.
   */
  batchNormGrad(
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
   * ConcordBatchNormGradGrad on the heap: dX and dDy [rows, channels], dScale [channels]; the
   * upstreams `a` ([rows, channels]), `b` and `e` ([channels]) are byte offsets, or −1 where absent
   * (zero). `moments` as in batchNormGrad (passed only where batchNormMoments is true).
   */
  batchNormGradGrad(
    buffer: ArrayBuffer,
    x: number,
    scale: number,
    offset: number,
    dy: number,
    a: number,
    b: number,
    e: number,
    dX: number,
    dScale: number,
    dDy: number,
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
  readonly batchNormMoments: boolean;
}

export const NATIVE_BATCH_NORM = {
  batchNorm: "function",
  batchNormGrad: "function",
  batchNormGradGrad: "function",
  batchNormMoments: "flag",
} as const satisfies NativeMemberKinds<NativeBatchNorm>;
