import * as tf from "@tensorflow/tfjs-core";
import { ConcordError } from "@concord/core";
import { describeEachBackend, tensorGrowth } from "@concord/core/testing";
import { expect, it } from "vitest";
import { cosineAgreement } from "./cosine-agreement.js";
import { gradientAgreement } from "./gradient-agreement.js";

function weightsFor(
  rows: number[][],
  eps?: number,
  scheme = cosineAgreement(eps === undefined ? {} : { eps }),
): { weights: number[]; fellBack: boolean | undefined } {
  const updates = tf.tensor2d(rows);
  const losses = tf.zeros([rows.length]) as tf.Tensor1D;
  try {
    const result = scheme.weights({ updates, losses, iteration: 0 });
    const weights = Array.from(result.weights.dataSync());
    result.weights.dispose();
    return { weights, fellBack: result.fellBack };
  } finally {
    tf.dispose([updates, losses]);
  }
}

function expectClose(actual: number[], expected: number[], tolerance = 1e-6): void {
  expect(actual).toHaveLength(expected.length);
  actual.forEach((value, i) => expect(Math.abs(value - expected[i]!), `weight ${i}: ${value} vs ${expected[i]}`).toBeLessThanOrEqual(tolerance));
}

describeEachBackend("cosineAgreement", () => {
  it("hand-worked: (3,4),(0,2),(−5,0) → 6/17, 9/17, 2/17, unlike gradient agreement", () => {
    // u = (0.6,0.8), (0,1), (−1,0); Σu = (−0.4, 1.8); s = (1.2, 1.8, 0.4); D = 3.4.
    const rows = [
      [3, 4],
      [0, 2],
      [-5, 0],
    ];
    const { weights, fellBack } = weightsFor(rows);
    expect(fellBack).toBe(false);
    expectClose(weights, [6 / 17, 9 / 17, 2 / 17]);
    // GA on the raw rows: S = (−2, 6); s = (18, 12, 10); D = 40 → 0.45, 0.3, 0.25.
    expectClose(weightsFor(rows, undefined, gradientAgreement()).weights, [0.45, 0.3, 0.25]);
  });

  it("hand-worked: a disagreeing task gets a negative weight ((2,0),(0,3),(−1,−1) → 1−1/√2, 1−1/√2, 1−√2)", () => {
    // u3 = −(1,1)/√2; Σu = (1−1/√2)(1,1); s = (1−1/√2, 1−1/√2, −√2(1−1/√2)); D = 2 − √2 + √2 − 1 = 1.
    expectClose(
      weightsFor([
        [2, 0],
        [0, 3],
        [-1, -1],
      ]).weights,
      [1 - Math.SQRT1_2, 1 - Math.SQRT1_2, 1 - Math.SQRT2],
    );
  });

  it("gives a zero update u = 0 and weight 0", () => {
    // u = 0, (1,0), (1,0); Σu = (2,0); s = (0, 2, 2).
    const { weights, fellBack } = weightsFor([
      [0, 0],
      [1, 0],
      [7, 0],
    ]);
    expect(fellBack).toBe(false);
    expectClose(weights, [0, 0.5, 0.5]);
  });

  it("counts directions only: rows of lengths 1e-20, 1 and 1e20 along one direction get 1/3 each", () => {
    expectClose(
      weightsFor([
        [1e-20, 1e-20],
        [1, 1],
        [1e20, 1e20],
      ]).weights,
      [1 / 3, 1 / 3, 1 / 3],
    );
  });

  it("keeps the hand-worked weights for rows whose float32 squares would overflow, underflow or be subnormal", () => {
    // 1e20² and 3e38² overflow float32; 1e-25² underflows; 1e-40 is itself subnormal.
    for (const scale of [1e20, 1e-25, 1e-40]) {
      const { weights, fellBack } = weightsFor(
        [
          [3, 4],
          [0, 2],
          [-5, 0],
        ].map((row) => row.map((x) => x * scale)),
      );
      expect(fellBack, `scale ${scale}`).toBe(false);
      expectClose(weights, [6 / 17, 9 / 17, 2 / 17], 1e-5);
    }
    // Per-row scales differing by 1e70: each row is normalised on its own.
    expectClose(
      weightsFor([
        [3e30, 4e30],
        [0, 2e-40],
        [-5e-37, 0],
      ]).weights,
      [6 / 17, 9 / 17, 2 / 17],
      1e-5,
    );
    // u = (1,0), (0,1), (1,1)/√2; Σu = c(1,1) with c = 1 + 1/√2; s = c(1, 1, √2) → (1, 1, √2)/(2 + √2).
    expectClose(
      weightsFor([
        [3e38, 0],
        [0, 1e-44],
        [1, 1],
      ]).weights,
      [1, 1, Math.SQRT2].map((x) => x / (2 + Math.SQRT2)),
      1e-5,
    );
  });

  it("handles one task (w = 1)", () => {
    expectClose(weightsFor([[0.3, -2, 5]]).weights, [1]);
  });

  it("falls back to uniform, never NaN, when the unit vectors sum to zero or every update is zero", () => {
    const cancelling = [
      [
        [1, -2],
        [-3, 6],
      ],
      [
        [0, 0, 0],
        [0, 0, 0],
        [0, 0, 0],
      ],
      [
        [1, 0],
        [0, 0],
        [-2, 0],
      ],
    ];
    for (const rows of cancelling) {
      const { weights, fellBack } = weightsFor(rows);
      expect(fellBack, JSON.stringify(rows)).toBe(true);
      expectClose(
        weights,
        rows.map(() => 1 / rows.length),
      );
    }
  });

  it("eps: 0 falls back only on an exactly zero denominator", () => {
    // (1,0) and (−2,0) have unit vectors exactly (1,0) and (−1,0): D = 0 exactly.
    expect(
      weightsFor(
        [
          [1, 0],
          [-2, 0],
        ],
        0,
      ).fellBack,
    ).toBe(true);
    // (1,−2) and (−3,6) cancel mathematically, but their float64 unit vectors differ in the last bit.
    expect(
      weightsFor(
        [
          [1, -2],
          [-3, 6],
        ],
        0,
      ).fellBack,
    ).toBe(false);
  });

  it("a batch that cancels only up to float32 rounding of its inputs needs a larger eps", () => {
    // Three directions 120° apart: √3/2 in float32 is off by ~1e-8, so D/N ~ 1e-8, above the default 1e-12.
    const rows = [
      [1, 0],
      [-0.5, Math.sqrt(3) / 2],
      [-0.5, -Math.sqrt(3) / 2],
    ];
    expect(weightsFor(rows).fellBack).toBe(false);
    expect(weightsFor(rows, 1e-6).fellBack).toBe(true);
  });

  it("falls back when an update is not finite", () => {
    for (const bad of [Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY]) {
      for (const position of [0, 3]) {
        const rows = [
          [1, 2],
          [2, 1],
          [0, 1],
        ];
        rows[Math.floor(position / 2)]![position % 2] = bad;
        const { weights, fellBack } = weightsFor(rows);
        expect(fellBack, `${bad} at ${position}`).toBe(true);
        expectClose(weights, [1 / 3, 1 / 3, 1 / 3]);
      }
    }
  });

  it("treats eps as relative to the number of non-zero updates", () => {
    // (1,0),(−1,0),(0,0.01): unit vectors (1,0),(−1,0),(0,1); Σu = (0,1); s = (0,0,1); D = 1 = (1/3)·3.
    const rows = [
      [1, 0],
      [-1, 0],
      [0, 0.01],
    ];
    expect(weightsFor(rows, 0.33).fellBack).toBe(false);
    expect(weightsFor(rows, 0.34).fellBack).toBe(true);
  });

  it("does not leak tensors over many calls", () => {
    const scheme = cosineAgreement();
    const updates = tf.randomNormal([8, 50], 0, 1, "float32", 3) as tf.Tensor2D;
    const losses = tf.ones([8]) as tf.Tensor1D;
    expect(tensorGrowth(() => tf.dispose(scheme.weights({ updates, losses, iteration: 0 }).weights), 10)).toBe(0);
    tf.dispose([updates, losses]);
  });

  it("rejects a bad eps and bad updates with a ConcordError naming the field", () => {
    for (const eps of [-1, Number.NaN, Number.POSITIVE_INFINITY, "0"]) {
      expect(() => cosineAgreement({ eps: eps as number })).toThrow(ConcordError);
      expect(() => cosineAgreement({ eps: eps as number })).toThrow(/^eps: /);
    }
    const vector = tf.ones([3]);
    const losses = tf.ones([3]) as tf.Tensor1D;
    expect(() => cosineAgreement().weights({ updates: vector as tf.Tensor2D, losses, iteration: 0 })).toThrow(
      /^updates: weighting scheme 'cosineAgreement' expected a \[N, P\] matrix/,
    );
    tf.dispose([vector, losses]);
  });
});
