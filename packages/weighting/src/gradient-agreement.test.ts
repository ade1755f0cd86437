import * as tf from "@tensorflow/tfjs-core";
import { ConcordError } from "@concord/core";
import { describeEachBackend } from "@concord/core/testing";
import { expect, it } from "vitest";
import { gradientAgreement } from "./gradient-agreement.js";

function weightsFor(rows: number[][], eps = 0): { weights: number[]; fellBack: boolean | undefined } {
  const updates = tf.tensor2d(rows);
  const losses = tf.zeros([rows.length]) as tf.Tensor1D;
  try {
    const result = gradientAgreement({ eps }).weights({ updates, losses, iteration: 0 });
    const weights = Array.from(result.weights.dataSync());
    result.weights.dispose();
    return { weights, fellBack: result.fellBack };
  } finally {
    tf.dispose([updates, losses]);
  }
}

function expectClose(actual: number[], expected: number[], tolerance = 1e-6): void {
  expect(actual).toHaveLength(expected.length);
  actual.forEach((value, i) => {
    expect(Math.abs(value - expected[i]!), `weight ${i}: ${value} vs ${expected[i]}`).toBeLessThanOrEqual(tolerance);
  });
}

describeEachBackend("gradientAgreement", () => {
  it("matches DESIGN.md reference row 1: (1,2),(2,1),(1,1) → 0.375, 0.375, 0.25", () => {
    // S = (4,4); s = (12, 12, 8); D = 32.
    const { weights, fellBack } = weightsFor([
      [1, 2],
      [2, 1],
      [1, 1],
    ]);
    expectClose(weights, [0.375, 0.375, 0.25]);
    expect(fellBack).toBe(false);
  });

  it("matches DESIGN.md reference row 2: (1,0),(0,1),(−1,0.5) → 0, 2/3, 1/3", () => {
    // S = (0,1.5); s = (0, 1.5, 0.75); D = 2.25.
    expectClose(
      weightsFor([
        [1, 0],
        [0, 1],
        [-1, 0.5],
      ]).weights,
      [0, 2 / 3, 1 / 3],
    );
  });

  it("gives a disagreeing task a negative weight (hand-derived: (3,0),(−2,0),(0,1) → 1/2, −1/3, 1/6)", () => {
    // Gram rows: g1·(g1,g2,g3) = (9,−6,0) → 3; g2: (−6,4,0) → −2; g3: (0,0,1) → 1. D = 3+2+1 = 6.
    expectClose(
      weightsFor([
        [3, 0],
        [-2, 0],
        [0, 1],
      ]).weights,
      [0.5, -1 / 3, 1 / 6],
    );
  });

  it("keeps the reference weights for updates whose float32 products would overflow or underflow", () => {
    // g·g of 1e20 is 1e40 > float32 max and of 1e-25 is 1e-50 < float32 min: rescaling keeps both exact.
    for (const scale of [1e20, 1e-25]) {
      const { weights, fellBack } = weightsFor(
        [
          [1, 2],
          [2, 1],
          [1, 1],
        ].map((row) => row.map((x) => x * scale)),
      );
      expect(fellBack).toBe(false);
      expectClose(weights, [0.375, 0.375, 0.25]);
    }
  });

  it("handles one task (w = 1) and many parameters", () => {
    expectClose(weightsFor([[0.3, -2, 5, 1e-3]]).weights, [1]);
  });

  it("falls back to uniform weights, never NaN, when the updates sum to zero", () => {
    const result = weightsFor([
      [1, -2],
      [-1, 2],
    ]);
    expect(result.fellBack).toBe(true);
    expectClose(result.weights, [0.5, 0.5]);
    const zeros = weightsFor([
      [0, 0, 0],
      [0, 0, 0],
      [0, 0, 0],
    ]);
    expect(zeros.fellBack).toBe(true);
    expectClose(zeros.weights, [1 / 3, 1 / 3, 1 / 3]);
  });

  it("falls back when the updates are not finite", () => {
    for (const bad of [Number.NaN, Number.POSITIVE_INFINITY]) {
      const result = weightsFor([
        [1, bad],
        [2, 1],
        [0, 1],
      ]);
      expect(result.fellBack).toBe(true);
      expectClose(result.weights, [1 / 3, 1 / 3, 1 / 3]);
    }
  });

  it("treats eps as relative to Σ_k ‖g_k‖² (scale-free)", () => {
    // (1,0),(−1,0.1): S = (0,0.1), s = (0, 0.01), D = 0.01; Σ‖g‖² = 2.01 → ratio ≈ 0.004975.
    const rows = [
      [1, 0],
      [-1, 0.1],
    ];
    expect(weightsFor(rows, 0.004).fellBack).toBe(false);
    expect(weightsFor(rows, 0.006).fellBack).toBe(true);
    const scaled = rows.map((row) => row.map((value) => value * 1e-3));
    expect(weightsFor(scaled, 0.004).fellBack).toBe(false);
    expect(weightsFor(scaled, 0.006).fellBack).toBe(true);
  });

  it("does not leak tensors over many calls", () => {
    const scheme = gradientAgreement({ eps: 1e-6 });
    const updates = tf.randomNormal([8, 50], 0, 1, "float32", 3) as tf.Tensor2D;
    const losses = tf.ones([8]) as tf.Tensor1D;
    tf.dispose(scheme.weights({ updates, losses, iteration: 0 }).weights);
    const before = tf.memory().numTensors;
    for (let i = 0; i < 100; i++) tf.dispose(scheme.weights({ updates, losses, iteration: i }).weights);
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([updates, losses]);
  });

  it("rejects bad options and bad input with a ConcordError naming the field", () => {
    for (const eps of [-1, Number.NaN, Number.POSITIVE_INFINITY, "0"]) {
      expect(() => gradientAgreement({ eps: eps as number })).toThrow(ConcordError);
      expect(() => gradientAgreement({ eps: eps as number })).toThrow(/^eps: /);
    }
    const vector = tf.ones([3]);
    const losses = tf.ones([3]) as tf.Tensor1D;
    expect(() => gradientAgreement().weights({ updates: vector as tf.Tensor2D, losses, iteration: 0 })).toThrow(
      /updates: weighting scheme 'gradientAgreement' expected a \[N, P\] matrix of task updates, got a tensor of shape \[3\]/,
    );
    const empty = tf.zeros([0, 4]) as tf.Tensor2D;
    expect(() => gradientAgreement().weights({ updates: empty, losses, iteration: 0 })).toThrow(/at least one task/);
    tf.dispose([vector, losses, empty]);
  });
});
