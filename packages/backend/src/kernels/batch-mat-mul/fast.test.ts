import * as tf from "@tensorflow/tfjs-core";
import "@tensorflow/tfjs-backend-wasm";
import { createRng } from "@concord/core";
import { relativeError } from "@concord/core/testing";
import { beforeAll, describe, expect, it } from "vitest";
import { installFastBatchMatMul } from "./fast.js";

/** Float64 reference of op(A)·op(B) over a shared or broadcast leading batch axis. */
function reference(a: Float32Array, b: Float32Array, batchA: number, batchB: number, m: number, k: number, n: number, tA: boolean, tB: boolean) {
  const batch = Math.max(batchA, batchB);
  const out = new Float64Array(batch * m * n);
  for (let t = 0; t < batch; t++) {
    const offA = batchA > 1 ? t * m * k : 0;
    const offB = batchB > 1 ? t * k * n : 0;
    for (let i = 0; i < m; i++) {
      for (let j = 0; j < n; j++) {
        let sum = 0;
        for (let p = 0; p < k; p++) sum += a[offA + (tA ? p * m + i : i * k + p)]! * b[offB + (tB ? j * k + p : p * n + j)]!;
        out[t * m * n + i * n + j] = sum;
      }
    }
  }
  return out;
}

describe("fast batched matMul on the wasm backend", () => {
  beforeAll(async () => {
    expect(await tf.setBackend("wasm")).toBe(true);
    await tf.ready();
    expect(installFastBatchMatMul()).toBe(true);
  });

  const rng = createRng(7);
  // Column counts cover the 16-, 4- and 1-wide code paths and their mixes.
  const cases: [batchA: number, batchB: number, m: number, k: number, n: number][] = [
    [25, 25, 10, 1, 40],
    [25, 25, 10, 40, 40],
    [25, 25, 10, 40, 1],
    [3, 3, 7, 5, 21],
    [4, 4, 1, 33, 19],
    [5, 1, 6, 9, 18],
    [1, 5, 6, 9, 18],
    // Single products: transposed ones leave XNNPACK's plain path (small: SIMD gemm; large: transpose first).
    [1, 1, 7, 5, 21],
    [1, 1, 64, 80, 48],
  ];
  for (const [batchA, batchB, m, k, n] of cases) {
    for (const [tA, tB] of [
      [false, false],
      [true, false],
      [false, true],
      [true, true],
    ] as const) {
      it(`[${batchA}]×[${batchB}] ${m}×${k}·${k}×${n}, transposeA ${tA}, transposeB ${tB}`, () => {
        const valuesA = Float32Array.from(rng.normalArray(batchA * m * k, 1));
        const valuesB = Float32Array.from(rng.normalArray(batchB * k * n, 1));
        const shapeA = [...(batchA > 1 ? [batchA] : []), ...(tA ? [k, m] : [m, k])];
        const shapeB = [...(batchB > 1 ? [batchB] : []), ...(tB ? [n, k] : [k, n])];
        const before = tf.memory().numTensors;
        const product = tf.tidy(() => tf.matMul(tf.tensor(valuesA, shapeA), tf.tensor(valuesB, shapeB), tA, tB));
        expect(product.shape).toEqual(Math.max(batchA, batchB) > 1 ? [Math.max(batchA, batchB), m, n] : [m, n]);
        const expected = reference(valuesA, valuesB, batchA, batchB, m, k, n, tA, tB);
        expect(relativeError(product.dataSync(), expected)).toBeLessThan(1e-6);
        product.dispose();
        expect(tf.memory().numTensors).toBe(before);
      });
    }
  }

  it("keeps rank-4 leading axes", () => {
    const product = tf.tidy(() => tf.matMul(tf.ones([2, 3, 4, 5]), tf.ones([2, 3, 5, 6])));
    expect(product.shape).toEqual([2, 3, 4, 6]);
    expect(Array.from(product.dataSync()).every((value) => value === 5)).toBe(true);
    product.dispose();
  });
});
