// Names and attributes of Concord's own kernels that more than one package relies on: registered by
// @concord/backend's setup call, run by the package that uses them when they are registered.

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
 * offset β [C]; attributes {@link BatchNormAttrs}; one output
 *
 *   y = relu?( γ · (x − μ) / √(σ² + ε) + β ),   μ, σ² the per-channel mean and (biased) variance of x over N, H, W,
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
 * dOffset = Σ g, dScale = Σ g·x̂, dx = γ·s·(g − mean(g) − x̂·mean(g·x̂)), sums over N, H, W.
 * Its registered gradient is exact (analytic, written with differentiable tf ops), so gradients of
 * gradients through the kernel pair are exact.
 */
export const BATCH_NORM_GRAD_KERNEL = "ConcordBatchNormGrad";

/** Attributes of {@link BATCH_NORM_KERNEL} and {@link BATCH_NORM_GRAD_KERNEL}. */
export interface BatchNormAttrs {
  /** ε added to the variance (> 0). */
  readonly epsilon: number;
  /** Apply a ReLU to the normalised output (its gradient then masks dy where γx̂ + β ≤ 0). */
  readonly relu: boolean;
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
 * Native kernels working in place on the wasm backend's heap (implemented by @concord/backend-native's
 * addon; any object with these functions works; installed by @concord/backend's installConcord({ native })). `buffer` is the WebAssembly.Memory's current
 * ArrayBuffer, every other pointer a byte offset into it; matrices are row-major float32.
 */
export interface NativeKernels {
  /** What computes the products, e.g. "OpenBLAS 0.3.21 … SkylakeX" (for reports). */
  readonly description: string;
  /**
   * For each i < batch: C_i[m×n] = op(A_i) · op(B_i), op(A) = A ([m×k]) or, with transposeA, Aᵀ
   * (A stored [k×m]); likewise B ([k×n], or stored [n×k]). Strides are bytes between consecutive
   * matrices of the batch; 0 broadcasts one matrix. Results must not depend on the thread count.
   */
  sgemm(
    buffer: ArrayBuffer,
    batch: number,
    m: number,
    n: number,
    k: number,
    transposeA: boolean,
    transposeB: boolean,
    a: number,
    strideA: number,
    b: number,
    strideB: number,
    c: number,
    strideC: number,
  ): void;
  /** out[(b, i, j), (h, w, ch)] = x[b, i + h − top, j + w − left, ch] (0 outside the image), NHWC, stride 1. */
  im2col(
    buffer: ArrayBuffer,
    x: number,
    out: number,
    n: number,
    height: number,
    width: number,
    c: number,
    oh: number,
    ow: number,
    kh: number,
    kw: number,
    top: number,
    left: number,
  ): void;
  /**
   * Optional: the max-pool gradient routing kernels (ConcordMaxPoolRoute, gather 0: out x-shaped,
   * upstream pooled; ConcordMaxPoolGather, gather 1: out pooled, upstream x-shaped) for pools whose
   * strides equal their kh × kw window, NHWC. Each window's maximum is the first position, in
   * row-major window order, whose value exceeds all before it; route writes zeros elsewhere.
   * Where {@link NativeKernels.maxPoolForward} is true, `gather` 2 pools x itself (out pooled, each
   * window's maximum; upstream unused) and returns true, or false without a usable result where x
   * holds a NaN or −0 or a window lies wholly in the padding (tfjs's MaxPool defines those differently).
   */
  maxPoolRoute?(
    buffer: ArrayBuffer,
    x: number,
    upstream: number,
    out: number,
    n: number,
    height: number,
    width: number,
    c: number,
    oh: number,
    ow: number,
    kh: number,
    kw: number,
    top: number,
    left: number,
    gather: number,
  ): boolean | undefined;
  /** True when maxPoolRoute takes `gather` 2: MaxPool itself. */
  readonly maxPoolForward?: boolean;
  /**
   * Optional: {@link BATCH_NORM_KERNEL} on the heap. x and out are [rows, channels] (rows = N·H·W),
   * scale and offset [channels]; relu is 0 or 1. Deterministic (float64 moments, fixed order).
   * Where {@link NativeKernels.batchNormMoments} is true, a `moments` Float64Array of 2 · channels
   * receives each channel's mean, then its inverse standard deviation 1/√(σ² + ε).
   */
  batchNorm?(
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
   * True when batchNorm and batchNormGrad take the trailing `moments` argument: batchNormGrad given
   * what batchNorm wrote for the same x and epsilon skips its own pass over x for them (same bits).
   */
  readonly batchNormMoments?: boolean;
  /**
   * Optional: {@link BATCH_NORM_GRAD_KERNEL} on the heap: dx [rows, channels], dScale and dOffset
   * [channels]; `moments` as batchNorm wrote them for this x and epsilon, or undefined.
   */
  batchNormGrad?(
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
   * Optional: {@link SGD_STEP_KERNEL} on the heap, out = param − fround(grad · fround(lr)) for `size`
   * float32 elements, each operation rounded to float32 (the same bits as the JavaScript kernel).
   */
  sgdStep?(buffer: ArrayBuffer, param: number, grad: number, out: number, size: number, lr: number): void;
  /** Optional: out[r, c] = x[r, c] + bias[c] in float32 for x and out [rows, channels] (tf.add of a bias). */
  addBias?(buffer: ArrayBuffer, x: number, bias: number, out: number, rows: number, channels: number): void;
}
