import * as tf from "@tensorflow/tfjs-core";

// The conv net's layers for a whole meta-batch with per-task parameters (convNet's forwardBatched).
// Every op is a plain differentiable tfjs op (pad, slice, concat, reshape, matMul, moments, ...),
// so first- and second-order gradients come from Concord's gradient set with no new kernel.

/**
 * 3×3 'same' convolution, stride 1, with each task's own filters, as im2col and one batched matMul:
 *
 *   z[t, (k, y, x), o] = Σ_{kh, kw, c} x_pad[t·K + k, y + kh, x + kw, c] · W[t, kh, kw, c, o] + b[t, o].
 *
 * The patches are the 9 shifted windows of the zero-padded input, concatenated on the channel axis
 * in (kh, kw) order, so patch column (kh·3 + kw)·Cin + c lines up with row (kh·3 + kw)·Cin + c of
 * W[t] reshaped to [9·Cin, Cout] (tf.conv2d's [kh, kw, cin, cout] layout). The product
 * [T, K·H·W, 9·Cin]·[T, 9·Cin, Cout] has the long K·H·W axis as rows and row-major operands, one
 * GEMM call per meta-batch on the native/SIMD BatchMatMul; its gradients are the same products
 * with one operand transposed, which those kernels read in place.
 *
 * x: [T·K, H, W, Cin] (task-major); weight [T, 3, 3, Cin, Cout]; bias [T, Cout]. Returns [T, K·H·W, Cout].
 */
export function convolve3x3Batched(x: tf.Tensor4D, weight: tf.Tensor, bias: tf.Tensor, tasks: number): tf.Tensor3D {
  const [rows, height, width, inChannels] = x.shape;
  const outChannels = weight.shape[4]!;
  const padded = tf.pad(x, [
    [0, 0],
    [1, 1],
    [1, 1],
    [0, 0],
  ]);
  const windows: tf.Tensor4D[] = [];
  for (let kh = 0; kh < 3; kh++) {
    for (let kw = 0; kw < 3; kw++) windows.push(tf.slice(padded, [0, kh, kw, 0], [rows, height, width, inChannels]));
  }
  const positions = (rows / tasks) * height * width;
  const patches = tf.reshape(tf.concat(windows, 3), [tasks, positions, 9 * inChannels]);
  const filters = tf.reshape(weight, [tasks, 9 * inChannels, outChannels]);
  return tf.add(tf.matMul(patches, filters), tf.reshape(bias, [tasks, 1, outChannels]));
}

/**
 * Transductive batch norm of every task with its own moments and its own γ, β:
 * γ_t · (z_t − μ_t) / √(σ²_t + ε) + β_t, μ_t and σ²_t per channel over task t's K·H·W positions
 * (what `batchNormalize` computes on one task's [K, H, W, C]). z: [T, K·H·W, C]; scale, offset [T, C].
 * Written with tf.moments and elementwise ops so every op has a second-order gradient.
 */
export function batchNormalizeBatched(z: tf.Tensor3D, scale: tf.Tensor, offset: tf.Tensor, epsilon: number): tf.Tensor3D {
  const [tasks, , channels] = z.shape;
  const { mean, variance } = tf.moments(z, [1], true);
  const normalised = tf.div(tf.sub(z, mean), tf.sqrt(tf.add(variance, epsilon)));
  return tf.add(tf.mul(normalised, tf.reshape(scale, [tasks, 1, channels])), tf.reshape(offset, [tasks, 1, channels]));
}
