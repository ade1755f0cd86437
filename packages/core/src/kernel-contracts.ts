// Names and attributes of Concord's own kernels that kernel-agnostic packages dispatch on (models and
// optimizers run them by name when registered, without importing @concord/backend): registered by
// @concord/backend's setup call. How a kernel is implemented (its reference, wasm and native variants,
// the native functions' calling convention on the wasm heap) is @concord/backend's, in its kernel folders.

/**
 * The fused Adam update of one parameter (cpu and wasm, registered by @concord/backend's
 * installConcord()). Inputs `{ param, grad, m, v }` (float32, one shape), attributes
 * {@link AdamUpdateAttrs}, outputs `[param', m', v']`, bit-identical to PyTorch's update written
 * op by op in float32 (what @concord/optimizers' adam() runs when the kernel is not registered).
 */
export const ADAM_UPDATE_KERNEL = "ConcordAdamUpdate";

/** Attributes of {@link ADAM_UPDATE_KERNEL} for step t. */
export interface AdamUpdateAttrs {
  readonly beta1: number;
  readonly beta2: number;
  readonly epsilon: number;
  /** lr / (1 − β1ᵗ) */
  readonly stepSize: number;
  /** √(1 − β2ᵗ) */
  readonly correction2Sqrt: number;
}

/**
 * Transductive batch normalisation with an optional ReLU, one NHWC float32 tensor per call
 * (cpu and wasm, registered by @concord/backend's installConcord(); native on wasm when
 * @concord/backend-native provides it). Inputs `{ x, scale, offset }`: x [N, H, W, C], scale γ and
 * offset β [C] (groups = 1) or [groups, C]; attributes {@link BatchNormAttrs}; one output
 *
 *   y = relu?( γ · (x − μ) / √(σ² + ε) + β ),   μ, σ² the per-channel mean and (biased) variance of x over N, H, W,
 *
 * With groups G > 1 (N divisible by G) the N images are G consecutive blocks of N/G (a meta-batch's
 * tasks, task-major) and block g is normalised over its own (N/G)·H·W rows with γ[g] and β[g]: the
 * same bits as the kernel run on that block alone with those rows.
 *
 * equal up to float rounding to tf.moments + elementwise ops (+ tf.relu). Moments are accumulated in
 * float64 in a fixed order, so results are deterministic. Its registered gradient runs
 * {@link BATCH_NORM_GRAD_KERNEL}; no normalised x or inverse std is output: the backward kernel
 * recomputes the moments (one more pass over x) so that the forward kernel has one output and its
 * gradient saves only its inputs.
 */
export const BATCH_NORM_KERNEL = "ConcordBatchNorm";

/**
 * The gradient of {@link BATCH_NORM_KERNEL} in one kernel: inputs `{ x, scale, offset, dy }` (dy
 * shaped like x), the same attributes, outputs `[dx, dScale, dOffset]`. With x̂ = (x − μ)·s,
 * s = 1/√(σ² + ε), g = dy (masked by γx̂ + β > 0 when relu):
 * dOffset = Σ g, dScale = Σ g·x̂, dx = γ·s·(g − mean(g) − x̂·mean(g·x̂)), sums over N, H, W (per block
 * with groups > 1; dScale and dOffset are shaped like scale).
 * Its registered gradient is exact (analytic: one second-order kernel of @concord/backend's where it is
 * registered and no tape records it, else differentiable tf ops), so gradients of gradients through
 * the kernel pair are exact.
 */
export const BATCH_NORM_GRAD_KERNEL = "ConcordBatchNormGrad";

/** Attributes of {@link BATCH_NORM_KERNEL} and {@link BATCH_NORM_GRAD_KERNEL}. */
export interface BatchNormAttrs {
  /** ε added to the variance (> 0). */
  readonly epsilon: number;
  /** Apply a ReLU to the normalised output (its gradient then masks dy where γx̂ + β ≤ 0). */
  readonly relu: boolean;
  /**
   * Independent blocks of N/groups consecutive images, each with its own moments and its own row of
   * scale and offset ([groups, C]); a positive integer dividing N. Absent or 1: one block, scale and
   * offset [C].
   */
  readonly groups?: number;
}

/**
 * The patches of a 3×3 'same' stride-1 convolution (im2col) of NHWC float32 images (cpu and wasm,
 * registered by @concord/backend's installConcord()). Input `{ x }` [N, H, W, C], no attributes,
 * output [N, H, W, 9·C]:
 *
 *   out[n, i, j, (h·3 + w)·C + c] = x[n, i + h − 1, j + w − 1, c]   (0 outside the image),
 *
 * the row layout of a [3, 3, C, Cout] filter reshaped to [9·C, Cout], so a convolution is
 * patches · filter. Its registered gradient is {@link COL2IM_3X3_KERNEL} (its adjoint) and that
 * kernel's is this one: both are linear, so gradients of every order are exact.
 */
export const IM2COL_3X3_KERNEL = "ConcordIm2Col3x3";

/**
 * The adjoint of {@link IM2COL_3X3_KERNEL}: input `{ patches }` [N, H, W, 9·C], output [N, H, W, C],
 * out[n, y, x, c] = Σ_{h, w} patches[n, y − h + 1, x − w + 1, (h·3 + w)·C + c] over in-image
 * positions, summed in (h, w) order (deterministic).
 */
export const COL2IM_3X3_KERNEL = "ConcordCol2Im3x3";

/**
 * One gradient-descent step of one parameter, θ' = θ − lr·g (cpu and wasm, registered with its
 * gradient by @concord/backend's installConcord()). Inputs `{ param, grad }` (float32, one shape),
 * attributes {@link SgdStepAttrs}, output θ', bit-identical to `tf.sub(param, tf.mul(grad, lr))` (what
 * @concord/optimizers' sgd() runs when the kernel or its gradient is not registered). Its gradient
 * runs the kernels of that form's gradient in the same order, so differentiating through the step
 * (second-order MAML) gives the same bits too.
 */
export const SGD_STEP_KERNEL = "ConcordSgdStep";

/** Attributes of {@link SGD_STEP_KERNEL}. */
export interface SgdStepAttrs {
  /** The learning rate (used as a float32, as the op form's scalar tensor). */
  readonly lr: number;
}

/**
 * Softmax cross-entropy per example from logits and integer labels (cpu and wasm, registered by
 * @concord/backend's installConcord(), fast kernel "cross-entropy"). Inputs `{ logits, labels }`:
 * logits float32 [..., C] (C ≥ 1), labels int32 [...] (the logits' shape without its last axis), each
 * in [0, C) (the kernel throws otherwise); no attributes; one float32 output shaped like labels,
 *
 *   loss[r] = logSumExp(z_r) − z_r[y_r],   logSumExp(z) = m + log Σ_c exp(z_c − m),  m = max_c z_c,
 *
 * computed in float64 per row and rounded once to float32 (so equal, up to float32 rounding, to the
 * same formula written with tf ops). Per example, not averaged: @concord/models' softmaxCrossEntropy()
 * takes the mean in tf, over everything (`loss`) or per task (`taskLosses`). Its registered gradient
 * runs {@link SOFTMAX_CROSS_ENTROPY_GRAD_KERNEL}.
 */
export const SOFTMAX_CROSS_ENTROPY_KERNEL = "ConcordSoftmaxCrossEntropy";

/**
 * The gradient of {@link SOFTMAX_CROSS_ENTROPY_KERNEL} with respect to the logits in one kernel:
 * inputs `{ logits, labels, dy }` (dy float32 shaped like labels: the loss's upstream gradient u),
 * one float32 output shaped like logits,
 *
 *   dLogits[r, c] = u_r · (p_rc − [c = y_r]),   p_r = softmax(z_r),
 *
 * in float64 per row, rounded once. Its registered gradient (second order) is exact: with v the
 * upstream of dLogits, ∂/∂z_r = u_r·(p_r ⊙ v_r − p_r·(p_rᵀv_r)) and ∂/∂u_r = Σ_c v_rc·(p_rc − [c = y_r])
 * (one kernel of @concord/backend's where it is registered and no tape records it, else
 * differentiable tf ops), so gradients of every order through the kernel pair are exact.
 */
export const SOFTMAX_CROSS_ENTROPY_GRAD_KERNEL = "ConcordSoftmaxCrossEntropyGrad";
