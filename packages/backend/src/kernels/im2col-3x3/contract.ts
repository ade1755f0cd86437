// im2col of a 3×3 'same' stride-1 convolution and its adjoint (col2im) as two kernels, each the
// other's gradient. Both are linear, so the pair is closed under differentiation at every order.
// They let a convolution with a different filter per task (convNet's forwardBatched) be one batched
// matMul over patches, without the nine strided slices (and, backwards, nine pads) that tfjs-wasm
// runs as JavaScript element loops. Names and formulas in @concord/core (models dispatch on them).
// No native function of its own: the native variant (native.ts) calls im2col (conv2d-im2col/contract.ts).
import * as tf from "@tensorflow/tfjs-core";
import { COL2IM_3X3_KERNEL, IM2COL_3X3_KERNEL } from "@concord/core";

export { COL2IM_3X3_KERNEL, IM2COL_3X3_KERNEL };

/** [N, H, W, C] → [N, H, W, 9·C] patches (see IM2COL_3X3_KERNEL). */
export function im2col3x3(x: tf.Tensor): tf.Tensor {
  return tf.engine().runKernel(IM2COL_3X3_KERNEL, { x }, {}) as tf.Tensor;
}

/** [N, H, W, 9·C] → [N, H, W, C], the adjoint of im2col3x3 (see COL2IM_3X3_KERNEL). */
export function col2im3x3(patches: tf.Tensor): tf.Tensor {
  return tf.engine().runKernel(COL2IM_3X3_KERNEL, { patches }, {}) as tf.Tensor;
}
