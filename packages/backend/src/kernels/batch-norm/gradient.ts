// Gradients of the fused batch-norm kernels (contract.ts):
//   ConcordBatchNorm      → ConcordBatchNormGrad (one kernel for dx, dγ, dβ);
//   ConcordBatchNormGrad  → its exact derivative (second order: what MAML's meta-gradient runs
//                           through): one ConcordBatchNormGradGrad kernel where it is registered and
//                           no gradient tape records kernels (so nothing can differentiate it: it has
//                           no gradient), else the same formulas written with differentiable tf ops
//                           (webgl, unknown backends, and third order).
// The ReLU mask is piecewise constant, so it contributes nothing (as Relu's gradient, dy·step(x),
// whose Step has a zero gradient). The derivation, per channel over M = N·H·W values, with
// x̂ = (x − μ)·s, s = (σ² + ε)^−½, g = mask·dy, P(v) = v − mean(v) − x̂·mean(v·x̂) and upstream
// gradients a (of dx), b (of dγ), e (of dβ): L = γs⟨a, P(g)⟩ + b⟨g, x̂⟩ + eΣg, so
//   ∂L/∂dy = mask·(γ·s·P(a) + b·x̂ + e)                 (P is self-adjoint)
//   ∂L/∂γ  = s·Σ a·P(g)
//   ∂L/∂x  = s·b·P(g) − γs²·[mean(a·x̂)(g − ḡ) + mean(g·x̂)(a − ā) + x̂·(mean(a·g) − ā·ḡ − 3·mean(a·x̂)·mean(g·x̂))]
//   ∂L/∂β  = 0
// (∂L/∂x: L through x̂ = u·s and s(u), u = x − μ, ds/du = −s³u/M, then centred.) Checked against
// finite differences in gradient.test.ts. With groups > 1 all of this holds per block of N/groups
// images, with that block's row of γ, b, e.
import * as tf from "@tensorflow/tfjs-core";
import type { GradConfig, NamedAttrMap } from "@tensorflow/tfjs-core";
import { saved, several, single, tapeRecording, zeroGradient } from "../../gradients/util.js";
import { BATCH_NORM_GRAD_GRAD_KERNEL, BATCH_NORM_GRAD_KERNEL, BATCH_NORM_KERNEL, type BatchNormAttrs } from "./contract.js";

const AXES = [0, 1, 2];

function batchNormAttrs(attrs: NamedAttrMap): Required<BatchNormAttrs> {
  return { epsilon: attrs["epsilon"] as number, relu: attrs["relu"] === true, groups: (attrs["groups"] as number | undefined) ?? 1 };
}

/** The kernels' attribute map: groups only where not 1, so ungrouped calls carry the attributes they always had. */
function kernelAttrs({ epsilon, relu, groups = 1 }: BatchNormAttrs): NamedAttrMap {
  return groups === 1 ? { epsilon, relu } : { epsilon, relu, groups };
}

/** [dx, dScale, dOffset] of ConcordBatchNorm(x, scale, offset) for upstream dy: one ConcordBatchNormGrad kernel. */
export function batchNormGrad(x: tf.Tensor, scale: tf.Tensor, offset: tf.Tensor, dy: tf.Tensor, attrs: BatchNormAttrs): [tf.Tensor, tf.Tensor, tf.Tensor] {
  return tf.engine().runKernel(BATCH_NORM_GRAD_KERNEL, { x, scale, offset, dy }, kernelAttrs(attrs)) as unknown as [tf.Tensor, tf.Tensor, tf.Tensor];
}

/**
 * The gradients of ConcordBatchNormGrad's inputs (see the file comment) with differentiable tf ops;
 * null upstreams are zero. groups > 1: x, dy, a as [groups, rows, C] reduced over axis 1 (keepDims),
 * scale, offset, b, e as [groups, 1, C], outputs reshaped back; groups 1 runs the ops it always ran.
 * Exported for the tests that compare the kernel with it.
 */
export function batchNormGradGradients(
  xIn: tf.Tensor,
  scaleIn: tf.Tensor,
  offsetIn: tf.Tensor,
  dyIn: tf.Tensor,
  [aIn, bIn, eIn]: (tf.Tensor | null)[],
  { epsilon, relu, groups = 1 }: BatchNormAttrs,
): { x: tf.Tensor; scale: tf.Tensor; dy: tf.Tensor } {
  const grouped = groups !== 1;
  const channels = xIn.shape[xIn.shape.length - 1]!;
  const long = (t: tf.Tensor) => (grouped ? tf.reshape(t, [groups, -1, channels]) : t);
  const short = (t: tf.Tensor) => (grouped ? tf.reshape(t, [groups, 1, channels]) : t);
  const [x, dy, a] = [long(xIn), long(dyIn), aIn && long(aIn)];
  const [scale, offset, b, e] = [short(scaleIn), short(offsetIn), bIn && short(bIn), eIn && short(eIn)];
  const axes = grouped ? [1] : AXES;
  const mean = (t: tf.Tensor) => tf.mean(t, axes, grouped);
  const moments = tf.moments(x, axes, grouped);
  const s = tf.rsqrt(tf.add(moments.variance, epsilon));
  const normalised = tf.mul(tf.sub(x, moments.mean), s);
  // The forward's mask (γx̂ + β > 0); Step's gradient is zero, so it stays a constant at every order.
  const mask = relu ? tf.step(tf.add(tf.mul(normalised, scale), offset)) : undefined;
  const g = mask ? tf.mul(dy, mask) : dy;
  const gMean = mean(g);
  const gxMean = mean(tf.mul(g, normalised));
  const gCentred = tf.sub(g, gMean);
  const projectedG = tf.sub(gCentred, tf.mul(normalised, gxMean));

  let dDy: tf.Tensor = tf.zerosLike(x);
  let dScale: tf.Tensor = tf.zerosLike(scale);
  let dX: tf.Tensor = tf.zerosLike(x);
  if (a) {
    const aMean = mean(a);
    const axMean = mean(tf.mul(a, normalised));
    const aCentred = tf.sub(a, aMean);
    const projectedA = tf.sub(aCentred, tf.mul(normalised, axMean));
    dDy = tf.add(dDy, tf.mul(projectedA, tf.mul(scale, s)));
    dScale = tf.add(dScale, tf.mul(tf.sum(tf.mul(a, projectedG), axes, grouped), s));
    const cross = tf.sub(tf.sub(mean(tf.mul(a, g)), tf.mul(aMean, gMean)), tf.mul(tf.mul(axMean, gxMean), 3));
    const bracket = tf.addN([tf.mul(gCentred, axMean), tf.mul(aCentred, gxMean), tf.mul(normalised, cross)]);
    dX = tf.sub(dX, tf.mul(bracket, tf.mul(scale, tf.square(s))));
  }
  if (b) {
    dDy = tf.add(dDy, tf.mul(normalised, b));
    dX = tf.add(dX, tf.mul(projectedG, tf.mul(b, s)));
  }
  if (e) dDy = tf.add(dDy, e);
  const back = (t: tf.Tensor, shape: number[]) => (grouped ? tf.reshape(t, shape) : t);
  return { x: back(dX, xIn.shape), scale: back(dScale, scaleIn.shape), dy: back(mask ? tf.mul(dDy, mask) : dDy, xIn.shape) };
}

/**
 * ConcordBatchNormGradGrad's [dX, dScale, dDy] (contract.ts); null upstreams are left out. The caller
 * checked that the kernel is registered for the active backend and that no tape records it.
 */
function batchNormGradGradKernel(x: tf.Tensor, scale: tf.Tensor, offset: tf.Tensor, dy: tf.Tensor, [a, b, e]: (tf.Tensor | null)[], attrs: BatchNormAttrs) {
  const inputs: tf.NamedTensorMap = { x, scale, offset, dy, ...(a ? { a } : {}), ...(b ? { b } : {}), ...(e ? { e } : {}) };
  const [dX, dScale, dDy] = tf.engine().runKernel(BATCH_NORM_GRAD_GRAD_KERNEL, inputs, kernelAttrs(attrs)) as unknown as tf.Tensor[];
  return { x: dX!, scale: dScale!, dy: dDy! };
}

export const batchNormGradients: GradConfig[] = [
  {
    kernelName: BATCH_NORM_KERNEL,
    inputsToSave: ["x", "scale", "offset"],
    gradFunc: (dy, s, attrs) => {
      // Computed here, not in the thunks: tfjs runs each thunk in its own tidy, which would free
      // the kernel's other two outputs.
      const [dx, dScale, dOffset] = batchNormGrad(saved(s, 0), saved(s, 1), saved(s, 2), single(dy), batchNormAttrs(attrs));
      return { x: () => dx, scale: () => dScale, offset: () => dOffset };
    },
  },
  {
    kernelName: BATCH_NORM_GRAD_KERNEL,
    inputsToSave: ["x", "scale", "offset", "dy"],
    gradFunc: (upstream, s, attrs) => {
      const [x, scale, offset, dy] = [saved(s, 0), saved(s, 1), saved(s, 2), saved(s, 3)];
      const oneKernel = tf.getKernel(BATCH_NORM_GRAD_GRAD_KERNEL, tf.getBackend()) !== undefined && !tapeRecording();
      const gradients = (oneKernel ? batchNormGradGradKernel : batchNormGradGradients)(x, scale, offset, dy, several(upstream), batchNormAttrs(attrs));
      return { x: () => gradients.x, scale: () => gradients.scale, offset: () => zeroGradient([...offset.shape]), dy: () => gradients.dy };
    },
  },
];
