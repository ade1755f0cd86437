// Add, Sub, Multiply, RealDiv, SquaredDifference, Maximum and Minimum are tfjs's kernels (their
// gradients are in Concord's gradient set, gradients/); this folder calls tfjs-wasm's C functions for
// them directly. Its native variant adds a bias with one function of the addon, on the wasm heap.
import type { NativeMemberKinds } from "../native-members.js";

/** The native bias add (see native-kernels.ts for the heap convention). */
export interface NativeAddBias {
  /** out[r, c] = x[r, c] + bias[c] in float32 for x and out [rows, channels] (tf.add of a bias). */
  addBias(buffer: ArrayBuffer, x: number, bias: number, out: number, rows: number, channels: number): void;
}

export const NATIVE_ADD_BIAS = { addBias: "function" } as const satisfies NativeMemberKinds<NativeAddBias>;
