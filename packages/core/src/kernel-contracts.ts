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
