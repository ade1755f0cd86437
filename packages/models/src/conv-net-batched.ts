import * as tf from "@tensorflow/tfjs-core";
import { BATCH_NORM_KERNEL, type BatchNormAttrs, IM2COL_3X3_KERNEL } from "@concord/core";

// The conv net's layers for a whole meta-batch with per-task parameters (convNet's forwardBatched).
// Every op is differentiable at every order with Concord's gradient set: plain tfjs ops (pad, slice,
// concat, reshape, matMul, moments, ...) and, when registered, Concord's im2col kernel (linear, its
// gradient is its adjoint) and fused batch-norm kernel (exact gradients at every order).

/**
 * 3×3 'same' convolution, stride 1, with each task's own filters, as im2col and one batched matMul:
 *
 *   z[t, (k, y, x), o] = Σ_{kh, kw, c} x_pad[t·K + k, y + kh, x + kw, c] · W[t, kh, kw, c, o] + b[t, o].
 *
 * The patches are the 9 shifted windows of the zero-padded input in (kh, kw) order on the channel
 * axis, so patch column (kh·3 + kw)·Cin + c lines up with row (kh·3 + kw)·Cin + c of W[t] reshaped
 * to [9·Cin, Cout] (tf.conv2d's [kh, kw, cin, cout] layout): Concord's IM2COL_3X3_KERNEL when it
 * and its gradient are registered for the active backend (one copy; its gradient one gather), else
 * 9 slices of the padded input concatenated (tfjs-wasm runs strided slices, and their gradients'
 * pads, as JavaScript element loops: ~30× slower on the Omniglot CNN). The product
 * [T, K·H·W, 9·Cin]·[T, 9·Cin, Cout] has the long K·H·W axis as rows and row-major operands, one
 * GEMM call per meta-batch on the native/SIMD BatchMatMul; its gradients are the same products
 * with one operand transposed, which those kernels read in place.
 *
 * x: [T·K, H, W, Cin] (task-major); weight [T, 3, 3, Cin, Cout]; bias [T, Cout]. Returns [T, K·H·W, Cout].
 */
export function convolve3x3Batched(x: tf.Tensor4D, weight: tf.Tensor, bias: tf.Tensor, tasks: number): tf.Tensor3D {
  const [rows, height, width, inChannels] = x.shape;
  const outChannels = weight.shape[4]!;
  const positions = (rows / tasks) * height * width;
  const patches = tf.reshape(patches3x3(x), [tasks, positions, 9 * inChannels]);
  const filters = tf.reshape(weight, [tasks, 9 * inChannels, outChannels]);
  return tf.add(tf.matMul(patches, filters), tf.reshape(bias, [tasks, 1, outChannels]));
}

/** [N, H, W, C] → [N, H, W, 9·C]: the 3×3 'same' patches, column (kh·3 + kw)·C + c (see convolve3x3Batched). */
export function patches3x3(x: tf.Tensor4D): tf.Tensor4D {
  if (x.dtype === "float32" && tf.getKernel(IM2COL_3X3_KERNEL, tf.getBackend()) && tf.getGradient(IM2COL_3X3_KERNEL)) {
    return tf.engine().runKernel(IM2COL_3X3_KERNEL, { x }, {}) as tf.Tensor4D;
  }
  return shiftedWindows3x3(x);
}

/** patches3x3 from plain ops: the 9 shifted windows of the zero-padded x, concatenated on the channel axis. */
export function shiftedWindows3x3(x: tf.Tensor4D): tf.Tensor4D {
  const [rows, height, width, channels] = x.shape;
  const padded = tf.pad(x, [
    [0, 0],
    [1, 1],
    [1, 1],
    [0, 0],
  ]);
  const windows: tf.Tensor4D[] = [];
  for (let kh = 0; kh < 3; kh++) {
    for (let kw = 0; kw < 3; kw++) windows.push(tf.slice(padded, [0, kh, kw, 0], [rows, height, width, channels]));
  }
  return tf.concat(windows, 3);
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

/** Whether Concord's fused batch norm (BATCH_NORM_KERNEL) and its gradient are registered for the active backend and take z. */
export function fusedBatchNormUsable(z: tf.Tensor): boolean {
  return z.dtype === "float32" && tf.getKernel(BATCH_NORM_KERNEL, tf.getBackend()) !== undefined && tf.getGradient(BATCH_NORM_KERNEL) !== undefined;
}

/**
 * relu(batchNormalizeBatched(z, scale, offset, epsilon)) as images [T·K, h, w, C] (imageShape
 * [T·K, h, w], task-major), for pooling: one BATCH_NORM_KERNEL call with groups = T and the ReLU
 * fused (one kernel each way, instead of ~14 ops and a relu) when fusedBatchNormUsable, else the ops
 * of batchNormalizeBatched + tf.relu. z [T, K·h·w, C]; scale, offset [T, C].
 */
export function batchNormReluBatched(
  z: tf.Tensor3D,
  scale: tf.Tensor,
  offset: tf.Tensor,
  epsilon: number,
  imageShape: readonly [number, number, number],
): tf.Tensor4D {
  const [tasks, , channels] = z.shape;
  const images: [number, number, number, number] = [...imageShape, channels];
  if (!fusedBatchNormUsable(z)) return tf.reshape(tf.relu(batchNormalizeBatched(z, scale, offset, epsilon)), images);
  // The kernel takes scale and offset [C] for one group, [groups, C] for more.
  const perGroup = (t: tf.Tensor) => (tasks === 1 ? tf.reshape(t, [channels]) : t);
  const attrs: BatchNormAttrs = tasks === 1 ? { epsilon, relu: true } : { epsilon, relu: true, groups: tasks };
  return tf.engine().runKernel(BATCH_NORM_KERNEL, { x: tf.reshape(z, images), scale: perGroup(scale), offset: perGroup(offset) }, { ...attrs }) as tf.Tensor4D;
}
