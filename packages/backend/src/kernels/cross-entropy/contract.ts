// ConcordSoftmaxCrossEntropy and ConcordSoftmaxCrossEntropyGrad: softmax cross-entropy per example
// and its gradient with respect to the logits, one kernel each way. Names and formulas in
// @concord/core: @concord/models' softmaxCrossEntropy() runs them by name when registered. The
// gradient of ConcordSoftmaxCrossEntropyGrad (second order) is ConcordSoftmaxCrossEntropyGradGrad,
// named here only: no model calls it, only this folder's gradient.ts.
import { SOFTMAX_CROSS_ENTROPY_GRAD_KERNEL, SOFTMAX_CROSS_ENTROPY_KERNEL } from "@concord/core";

export { SOFTMAX_CROSS_ENTROPY_GRAD_KERNEL, SOFTMAX_CROSS_ENTROPY_KERNEL };

/**
 * The gradient of {@link SOFTMAX_CROSS_ENTROPY_GRAD_KERNEL} in one kernel (cpu and wasm). Inputs
 * `{ logits, labels, dy }` as that kernel's and `upstream` (v, the gradient flowing into its output
 * dLogits, float32 shaped like logits); outputs `[dLogits, dDy]` shaped like logits and like labels:
 *
 *   dLogits[r, c] = u_r · p_rc · (v_rc − p_rᵀv_r),   dDy[r] = p_rᵀv_r − v_r[y_r],
 *
 * with u = dy and p_r = softmax(z_r), in float64 per row, rounded once (the labels get no gradient).
 * It has no gradient of its own: gradient.ts runs it only while no gradient tape records kernels.
 */
export const SOFTMAX_CROSS_ENTROPY_GRAD_GRAD_KERNEL = "ConcordSoftmaxCrossEntropyGradGrad";
