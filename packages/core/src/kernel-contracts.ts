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
  im2col(buffer: ArrayBuffer, x: number, out: number, n: number, height: number, width: number, c: number, oh: number, ow: number, kh: number, kw: number, top: number, left: number): void;
}
