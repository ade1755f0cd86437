// Gradients of the cross-entropy kernels (contract.ts):
//   ConcordSoftmaxCrossEntropy      → ConcordSoftmaxCrossEntropyGrad (one kernel for dLogits);
//   ConcordSoftmaxCrossEntropyGrad  → its exact derivative (second order: what MAML's meta-gradient
//                                     runs through): one ConcordSoftmaxCrossEntropyGradGrad kernel
//                                     where it is registered and no gradient tape records kernels
//                                     (nothing can differentiate it: it has no gradient), else the
//                                     same formulas with differentiable tf ops (third order, webgl).
// Derivation, per row with p = softmax(z), u the loss's upstream and v the upstream of
// dLogits = u·(p − e_y): L = u·vᵀ(p − e_y), and ∂p/∂z = diag(p) − p pᵀ (symmetric), so
//   ∂L/∂z = u·(p ⊙ v − p·(pᵀv)),   ∂L/∂u = vᵀ(p − e_y),   the labels get none.
// Checked against finite differences in gradient.test.ts.
import * as tf from "@tensorflow/tfjs-core";
import type { GradConfig } from "@tensorflow/tfjs-core";
import { saved, single, tapeRecording, zeroGradient } from "../../gradients/util.js";
import { SOFTMAX_CROSS_ENTROPY_GRAD_GRAD_KERNEL, SOFTMAX_CROSS_ENTROPY_GRAD_KERNEL, SOFTMAX_CROSS_ENTROPY_KERNEL } from "./contract.js";

/** dLogits = dy·(softmax(logits) − onehot(labels)) of ConcordSoftmaxCrossEntropy: one ConcordSoftmaxCrossEntropyGrad kernel. */
export function softmaxCrossEntropyGrad(logits: tf.Tensor, labels: tf.Tensor, dy: tf.Tensor): tf.Tensor {
  return tf.engine().runKernel(SOFTMAX_CROSS_ENTROPY_GRAD_KERNEL, { logits, labels, dy }) as tf.Tensor;
}

/**
 * The gradients of ConcordSoftmaxCrossEntropyGrad's logits and dy for the upstream `upstream` of its
 * output (see the file comment), with differentiable tf ops. Exported for the tests that compare
 * the kernel with it.
 */
export function softmaxCrossEntropyGradGradients(
  logits: tf.Tensor,
  labels: tf.Tensor,
  dy: tf.Tensor,
  upstream: tf.Tensor,
): { logits: tf.Tensor; dy: tf.Tensor } {
  const last = logits.rank - 1;
  const p = tf.softmax(logits);
  const pv = tf.sum(tf.mul(p, upstream), last, true);
  const dLogits = tf.mul(tf.mul(p, tf.sub(upstream, pv)), tf.expandDims(dy, last));
  // p − onehot(y) as the gradient kernel with dy = 1 (differentiable: its gradient is this function;
  // tf.oneHot would also reject C = 1).
  const dDy = tf.sum(tf.mul(upstream, softmaxCrossEntropyGrad(logits, labels, tf.ones(dy.shape))), last);
  return { logits: dLogits, dy: dDy };
}

/** ConcordSoftmaxCrossEntropyGradGrad's [dLogits, dDy]; the caller checked that it is registered and that no tape records it. */
function softmaxCrossEntropyGradGradKernel(logits: tf.Tensor, labels: tf.Tensor, dy: tf.Tensor, upstream: tf.Tensor): { logits: tf.Tensor; dy: tf.Tensor } {
  const [dLogits, dDy] = tf.engine().runKernel(SOFTMAX_CROSS_ENTROPY_GRAD_GRAD_KERNEL, { logits, labels, dy, upstream }) as unknown as tf.Tensor[];
  return { logits: dLogits!, dy: dDy! };
}

export const softmaxCrossEntropyGradients: GradConfig[] = [
  {
    kernelName: SOFTMAX_CROSS_ENTROPY_KERNEL,
    inputsToSave: ["logits", "labels"],
    gradFunc: (dy, s) => {
      const [logits, labels] = [saved(s, 0), saved(s, 1)];
      return { logits: () => softmaxCrossEntropyGrad(logits, labels, single(dy)), labels: () => zeroGradient([...labels.shape]) };
    },
  },
  {
    kernelName: SOFTMAX_CROSS_ENTROPY_GRAD_KERNEL,
    inputsToSave: ["logits", "labels", "dy"],
    gradFunc: (upstream, s) => {
      const [logits, labels, dy] = [saved(s, 0), saved(s, 1), saved(s, 2)];
      const oneKernel = tf.getKernel(SOFTMAX_CROSS_ENTROPY_GRAD_GRAD_KERNEL, tf.getBackend()) !== undefined && !tapeRecording();
      // Computed here, not in the thunks: tfjs runs each thunk in its own tidy, which would free the other output.
      const gradients = (oneKernel ? softmaxCrossEntropyGradGradKernel : softmaxCrossEntropyGradGradients)(logits, labels, dy, single(upstream));
      return { logits: () => gradients.logits, labels: () => zeroGradient([...labels.shape]), dy: () => gradients.dy };
    },
  },
];
