// Conv2D is tfjs's kernel (its gradient is Concord's, gradients/conv.ts); this folder replaces its
// wasm implementation by im2col + a matMul. Its native variant calls the addon's im2col and sgemm
// (batch-mat-mul/contract.ts) on the wasm heap.
import type { NativeMemberKinds } from "../native-members.js";
import type { WindowGeometry } from "../window-geometry.js";

/** The native im2col (see native-kernels.ts for the heap convention). Also used by ConcordConv2DBackpropFilter and ConcordIm2Col3x3. */
export interface NativeIm2col {
  /** out[(b, i, j), (h, w, ch)] = x[b, i + h − top, j + w − left, ch] (0 outside the image), NHWC, stride 1. */
  im2col(buffer: ArrayBuffer, x: number, out: number, ...geometry: WindowGeometry): void;
}

export const NATIVE_IM2COL = { im2col: "function" } as const satisfies NativeMemberKinds<NativeIm2col>;
