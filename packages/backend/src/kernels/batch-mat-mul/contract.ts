// BatchMatMul is tfjs's kernel (its gradient is Concord's, gradients/matmul.ts); this folder replaces
// its wasm implementation. Its native variant calls one function of the addon, on the wasm heap.
import type { NativeMemberKinds } from "../native-members.js";

/** The native GEMM (see native-kernels.ts for the heap convention). Also used by the convolution kernels. */
export interface NativeSgemm {
  /**
   * For each i < batch: C_i[m×n] = op(A_i) · op(B_i), op(A) = A ([m×k]) or, with transposeA, Aᵀ
   * (A stored [k×m]); likewise B ([k×n], or stored [n×k]). Strides are bytes between consecutive
   * matrices of the batch; 0 broadcasts one matrix. Results must not depend on the thread count.
   */
  sgemm(
    buffer: ArrayBuffer,
    batch: number,
    m: number,
    n: number,
    k: number,
    transposeA: boolean,
    transposeB: boolean,
    a: number,
    strideA: number,
    b: number,
    strideB: number,
    c: number,
    strideC: number,
  ): void;
}

export const NATIVE_SGEMM = { sgemm: "function" } as const satisfies NativeMemberKinds<NativeSgemm>;
