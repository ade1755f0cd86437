// ConcordSgdStep: one gradient-descent step θ' = θ − lr·g of one parameter as a single kernel,
// computing exactly what tf.sub(θ, tf.mul(g, lr)) computes. The inner loop of every sinusoid
// meta-learner takes this step for each parameter on every inner step (Reptile-5: 5 × 25 tasks × 6
// parameters per iteration); the op form is two kernels (Multiply, Sub) per parameter. Name and
// attributes in @concord/core: @concord/optimizers' sgd() runs it by name when registered.
import { SGD_STEP_KERNEL, type SgdStepAttrs } from "@concord/core";
import type { NativeMemberKinds } from "../native-members.js";

export { SGD_STEP_KERNEL, type SgdStepAttrs };

/** The native SGD step (see native-kernels.ts for the heap convention). */
export interface NativeSgdStep {
  /**
   * ConcordSgdStep on the heap, out = param − fround(grad · fround(lr)) for `size` float32 elements,
   * each operation rounded to float32 (the same bits as the JavaScript kernel).
   */
  sgdStep(buffer: ArrayBuffer, param: number, grad: number, out: number, size: number, lr: number): void;
}

export const NATIVE_SGD_STEP = { sgdStep: "function" } as const satisfies NativeMemberKinds<NativeSgdStep>;
