import * as tf from "@tensorflow/tfjs-core";

const stop = tf.customGrad((...inputs) => ({
  value: tf.clone(inputs[0] as tf.Tensor),
  gradFunc: (dy: tf.Tensor | tf.Tensor[]) => tf.zeros((Array.isArray(dy) ? dy[0]! : dy).shape, "float32"),
}));

/**
 * Returns a copy of `x` that differentiation treats as a constant (∂/∂x = 0 at every order), like
 * `torch.Tensor.detach` or `jax.lax.stop_gradient`.
 */
export function stopGradient<T extends tf.Tensor>(x: T): T {
  return stop(x) as T;
}
