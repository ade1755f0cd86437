// ConcordBatchNorm and ConcordBatchNormGrad: transductive batch normalisation (+ ReLU) of one NHWC
// float32 tensor and its gradient, one kernel each way. Names, attributes and formulas in
// @concord/core: @concord/models' convNet runs them by name when registered.
import { BATCH_NORM_GRAD_KERNEL, BATCH_NORM_KERNEL, type BatchNormAttrs } from "@concord/core";
import type { NativeMemberKinds } from "../native-members.js";

export { BATCH_NORM_GRAD_KERNEL, BATCH_NORM_KERNEL, type BatchNormAttrs };

/** The native batch norm (see native-kernels.ts for the heap convention). */
export interface NativeBatchNorm {
  /**
   * ConcordBatchNorm on the heap. x and out are [rows, channels] (rows = N·H·W), scale and offset
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
   * True when batchNorm and batchNormGrad take the trailing `moments` argument: batchNormGrad given
   * what batchNorm wrote for the same x and epsilon skips its own pass over x for them (same bits).
   */
  readonly batchNormMoments: boolean;
}

export const NATIVE_BATCH_NORM = {
  batchNorm: "function",
  batchNormGrad: "function",
  batchNormMoments: "flag",
} as const satisfies NativeMemberKinds<NativeBatchNorm>;
