// Gradients of elementwise math and activation kernels. tfjs computes several of these from the
// kernel's saved OUTPUT, which the tape cannot differentiate (it is saved before its producer is
// recorded), so their second derivatives came out silently wrong. Here every derivative is
// recomputed from the saved input with differentiable ops.
import * as tf from "@tensorflow/tfjs-core";
import type { GradConfig } from "@tensorflow/tfjs-core";
import { saved, single } from "./util.js";

/** A one-input kernel whose gradient is dy · f'(x). */
function unary(kernelName: string, derivative: (x: tf.Tensor, dy: tf.Tensor) => tf.Tensor): GradConfig {
  return {
    kernelName,
    inputsToSave: ["x"],
    gradFunc: (dy, s) => ({ x: () => derivative(saved(s, 0), single(dy)) }),
  };
}

export const unaryGradients: GradConfig[] = [
  // exp' = exp(x), recomputed from x
  unary("Exp", (x, dy) => tf.mul(dy, tf.exp(x))),
  unary("Log", (x, dy) => tf.div(dy, x)),
  unary("Log1p", (x, dy) => tf.div(dy, tf.add(x, 1))),
  // sqrt' = 1 / (2 sqrt(x))
  unary("Sqrt", (x, dy) => tf.div(dy, tf.mul(tf.sqrt(x), 2))),
  // rsqrt' = −x^(−3/2) / 2 = −rsqrt(x) / (2x)
  unary("Rsqrt", (x, dy) => tf.mul(dy, tf.div(tf.rsqrt(x), tf.mul(x, -2)))),
  // tanh' = 1 − tanh(x)²
  unary("Tanh", (x, dy) => tf.mul(dy, tf.sub(1, tf.square(tf.tanh(x))))),
  // σ' = σ(x)(1 − σ(x))
  unary("Sigmoid", (x, dy) => {
    const sigma = tf.sigmoid(x);
    return tf.mul(dy, tf.mul(sigma, tf.sub(1, sigma)));
  }),
  // softplus' = σ(x)
  unary("Softplus", (x, dy) => tf.mul(dy, tf.sigmoid(x))),
  // relu' = step(x) (0 at 0); Step's own gradient is zero, so relu'' = 0 as it should be.
  unary("Relu", (x, dy) => tf.mul(dy, tf.step(x))),
  // elu' = 1 for x > 0, exp(x) otherwise; exp of min(x, 0) so the unused branch cannot overflow.
  unary("Elu", (x, dy) => tf.where(tf.greater(x, 0), dy, tf.mul(dy, tf.exp(tf.minimum(x, 0))))),
];

export const leakyReluGradient: GradConfig = {
  kernelName: "LeakyRelu",
  inputsToSave: ["x"],
  gradFunc: (dy, s, attrs) => {
    const x = saved(s, 0);
    const g = single(dy);
    const alpha = Number(attrs["alpha"]);
    return { x: () => tf.where(tf.greater(x, 0), g, tf.mul(g, alpha)) };
  },
};

/** softmax: dx = p ⊙ (dy − Σ dy ⊙ p) along `dim`, with p = softmax(logits) recomputed from the input. */
export const softmaxGradient: GradConfig = {
  kernelName: "Softmax",
  inputsToSave: ["logits"],
  gradFunc: (dy, s, attrs) => {
    const logits = saved(s, 0);
    const g = single(dy);
    const dim = tf.util.parseAxisParam(attrs.dim as number, logits.shape);
    return {
      logits: () => {
        const p = tf.softmax(logits, dim[0]);
        return tf.mul(p, tf.sub(g, tf.sum(tf.mul(g, p), dim, true)));
      },
    };
  },
};
