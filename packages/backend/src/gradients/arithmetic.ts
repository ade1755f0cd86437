// Gradients of the elementwise arithmetic kernels. Every formula uses the saved inputs and
// differentiable ops only, so these gradients can themselves be differentiated.
import * as tf from "@tensorflow/tfjs-core";
import type { GradConfig } from "@tensorflow/tfjs-core";
import { saved, single, unbroadcast, unbroadcastUpstream } from "./util.js";

export const arithmeticGradients: GradConfig[] = [
  {
    kernelName: "Add",
    inputsToSave: ["a", "b"],
    gradFunc: (dy, s) => {
      const g = single(dy);
      return { a: () => unbroadcastUpstream(g, saved(s, 0).shape), b: () => unbroadcastUpstream(g, saved(s, 1).shape) };
    },
  },
  {
    kernelName: "AddN",
    saveAllInputs: true,
    gradFunc: (dy, s) => {
      const g = single(dy);
      return Object.fromEntries(s.map((_, i) => [String(i), () => tf.clone(g)]));
    },
  },
  {
    kernelName: "Sub",
    inputsToSave: ["a", "b"],
    gradFunc: (dy, s) => {
      const g = single(dy);
      return { a: () => unbroadcastUpstream(g, saved(s, 0).shape), b: () => unbroadcast(tf.neg(g), saved(s, 1).shape) };
    },
  },
  {
    kernelName: "Multiply",
    inputsToSave: ["a", "b"],
    gradFunc: (dy, s) => {
      const g = single(dy);
      const a = saved(s, 0);
      const b = saved(s, 1);
      return { a: () => unbroadcast(tf.mul(g, b), a.shape), b: () => unbroadcast(tf.mul(g, a), b.shape) };
    },
  },
  {
    // d(a/b) = da / b − a·db / b²
    kernelName: "RealDiv",
    inputsToSave: ["a", "b"],
    gradFunc: (dy, s) => {
      const g = single(dy);
      const a = saved(s, 0);
      const b = saved(s, 1);
      return {
        a: () => unbroadcast(tf.div(g, b), a.shape),
        b: () => unbroadcast(tf.neg(tf.div(tf.mul(g, a), tf.square(b))), b.shape),
      };
    },
  },
  {
    kernelName: "Neg",
    gradFunc: (dy) => ({ x: () => tf.neg(single(dy)) }),
  },
  {
    kernelName: "Square",
    inputsToSave: ["x"],
    gradFunc: (dy, s) => ({ x: () => tf.mul(single(dy), tf.mul(saved(s, 0), 2)) }),
  },
  {
    // d(a − b)² = 2(a − b)(da − db)
    kernelName: "SquaredDifference",
    inputsToSave: ["a", "b"],
    gradFunc: (dy, s) => {
      const g = single(dy);
      const a = saved(s, 0);
      const b = saved(s, 1);
      const scaled = () => tf.mul(g, tf.mul(tf.sub(a, b), 2));
      return { a: () => unbroadcast(scaled(), a.shape), b: () => unbroadcast(tf.neg(scaled()), b.shape) };
    },
  },
  // Ties go to `a`, as in tfjs.
  selectionGradient("Maximum", (a, b) => tf.greaterEqual(a, b)),
  selectionGradient("Minimum", (a, b) => tf.lessEqual(a, b)),
  {
    // |x|' = sign(x) (0 at 0)
    kernelName: "Abs",
    inputsToSave: ["x"],
    gradFunc: (dy, s) => ({ x: () => tf.mul(single(dy), tf.sign(saved(s, 0))) }),
  },
  {
    // d(a^b) = b·a^(b−1) da + a^b·ln(a) db; ln is taken only where a > 0 (0 elsewhere) and of a
    // guarded argument, so no NaN or Inf leaks into higher orders.
    kernelName: "Pow",
    inputsToSave: ["a", "b"],
    gradFunc: (dy, s) => {
      const g = single(dy);
      const a = saved(s, 0);
      const b = saved(s, 1);
      return {
        a: () => {
          const bf = tf.cast(b, "float32");
          return unbroadcast(tf.mul(g, tf.mul(bf, tf.pow(a, tf.sub(bf, 1)))), a.shape);
        },
        b: () => {
          const positive = tf.greater(a, 0);
          const logA = tf.log(tf.where(positive, a, tf.onesLike(a)));
          return unbroadcast(tf.mul(g, tf.mul(tf.pow(a, b), logA)), b.shape);
        },
      };
    },
  },
  {
    kernelName: "Reciprocal",
    inputsToSave: ["x"],
    gradFunc: (dy, s) => ({ x: () => tf.neg(tf.div(single(dy), tf.square(saved(s, 0)))) }),
  },
];

/** Gradient of an elementwise choice between a and b: dy flows to `a` where `aChosen`, to `b` elsewhere. */
function selectionGradient(kernelName: string, aChosen: (a: tf.Tensor, b: tf.Tensor) => tf.Tensor): GradConfig {
  return {
    kernelName,
    inputsToSave: ["a", "b"],
    gradFunc: (dy, s) => {
      const g = single(dy);
      const a = saved(s, 0);
      const b = saved(s, 1);
      const zeros = () => tf.zerosLike(g);
      return {
        a: () => unbroadcast(tf.where(aChosen(a, b), g, zeros()), a.shape),
        b: () => unbroadcast(tf.where(aChosen(a, b), zeros(), g), b.shape),
      };
    },
  };
}
