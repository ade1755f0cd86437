// im2col of a 3×3 'same' stride-1 convolution and its adjoint (col2im) as two kernels, each the
// other's gradient. Both are linear, so the pair is closed under differentiation at every order.
// They let a convolution with a different filter per task (convNet's forwardBatched) be one batched
// matMul over patches, without the nine strided slices (and, backwards, nine pads) that tfjs-wasm
// runs as JavaScript element loops. Names and formulas in @concord/core (models dispatch on them).
// Native: im2col runs the addon's im2col (conv2d-im2col/contract.ts); col2im its own col2im3x3 (below).
import * as tf from "@tensorflow/tfjs-core";
import { COL2IM_3X3_KERNEL, IM2COL_3X3_KERNEL } from "@concord/core";
import type { NativeMemberKinds } from "../native-members.js";

export { COL2IM_3X3_KERNEL, IM2COL_3X3_KERNEL };

/** [N, H, W, C] → [N, H, W, 9·C] patches (see IM2COL_3X3_KERNEL). */
export function im2col3x3(x: tf.Tensor): tf.Tensor {
  return tf.engine().runKernel(IM2COL_3X3_KERNEL, { x }, {}) as tf.Tensor;
}

/** [N, H, W, 9·C] → [N, H, W, C], the adjoint of im2col3x3 (see COL2IM_3X3_KERNEL). */
export function col2im3x3(patches: tf.Tensor): tf.Tensor {
  return tf.engine().runKernel(COL2IM_3X3_KERNEL, { patches }, {}) as tf.Tensor;
}

/** The native col2im (see native-kernels.ts for the heap convention). */
export interface NativeCol2im3x3 {
  /**
   * out ([n, height, width, c]) ← the adjoint of a 3×3 'same' im2col of patches ([n, height, width, 9·c]):
   * each pixel adds its in-image taps in (h, w) order from 0, as reference.ts's col2imValues (the same bits).
   */
  col2im3x3(buffer: ArrayBuffer, patches: number, out: number, n: number, height: number, width: number, c: number): void;
}

export const NATIVE_COL2IM_3X3 = { col2im3x3: "function" } as const satisfies NativeMemberKinds<NativeCol2im3x3>;
