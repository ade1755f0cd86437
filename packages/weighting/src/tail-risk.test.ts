import * as tf from "@tensorflow/tfjs-core";
import { describeEachBackend, expectConcordError, tensorGrowth } from "@concord/core/testing";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { tailCount, tailRisk } from "./tail-risk.js";

function weightsFor(losses: readonly number[], alpha: number): number[] {
  const updates = tf.zeros([losses.length, 3]) as tf.Tensor2D;
  const lossTensor = tf.tensor1d(losses as number[]);
  try {
    const result = tailRisk({ alpha }).weights({ updates, losses: lossTensor, iteration: 0 });
    expect(result.fellBack).toBeUndefined();
    const weights = Array.from(result.weights.dataSync());
    result.weights.dispose();
    return weights;
  } finally {
    tf.dispose([updates, lossTensor]);
  }
}

/**
 * Independent float64 reference by counting instead of sorting: task i is in the tail when fewer
 * than k tasks rank above it, "above" meaning a larger loss, or an equal loss and a lower index.
 * k = ⌈p·N/100⌉ in integer arithmetic for alpha = p/100.
 */
function referenceWeights(losses: readonly number[], percent: number): number[] {
  const k = Math.max(1, Math.floor((percent * losses.length + 99) / 100));
  return losses.map((loss, i) => {
    const above = losses.filter((other, j) => other > loss || (other === loss && j < i)).length;
    return above < k ? 1 / k : 0;
  });
}

const expectClose = (actual: number[], expected: number[]) =>
  actual.forEach((value, i) => expect(Math.abs(value - expected[i]!), `weight ${i}: ${value} vs ${expected[i]}`).toBeLessThanOrEqual(1e-7));

describe("tailCount: k = max(1, ⌈α·N⌉) without floating-point surprises", () => {
  it("0.28 · 25 = 7.000000000000001 in floating point, yet k = 7 (Math.ceil would give 8)", () => {
    expect(0.28 * 25).toBe(7.000000000000001);
    expect(Math.ceil(0.28 * 25)).toBe(8);
    expect(tailCount(0.28, 25)).toBe(7);
    expect(tailCount(0.14, 50)).toBe(7); // 7.000000000000001
    expect(tailCount(0.56, 50)).toBe(28); // 28.000000000000004
    expect(0.1 * 30).toBe(3); // the often-quoted example happens to round to exactly 3
    expect(tailCount(0.1, 30)).toBe(3);
  });

  it("equals the integer ceiling ⌈p·N/100⌉ for every alpha = p/100 and N up to 400, and ⌈p·N/1000⌉ for p/1000", () => {
    const wrong: string[] = [];
    for (let tasks = 1; tasks <= 400; tasks++) {
      for (let p = 1; p <= 100; p++) if (tailCount(p / 100, tasks) !== Math.max(1, Math.floor((p * tasks + 99) / 100))) wrong.push(`${p}/100 · ${tasks}`);
    }
    for (const tasks of [1, 7, 25, 32, 64, 999]) {
      for (let p = 1; p <= 1000; p++) if (tailCount(p / 1000, tasks) !== Math.max(1, Math.floor((p * tasks + 999) / 1000))) wrong.push(`${p}/1000 · ${tasks}`);
    }
    expect(wrong).toEqual([]);
  });

  it("rounds genuine fractions up and never goes below 1 or above N", () => {
    expect(tailCount(0.25, 5)).toBe(2); // 1.25 → 2
    expect(tailCount(1e-9, 5)).toBe(1);
    expect(tailCount(1, 5)).toBe(5);
    expect(tailCount(1 / 3, 3)).toBe(1);
    expect(tailCount(2 / 3, 3)).toBe(2);
  });
});

describeEachBackend("tailRisk", () => {
  it("hand-worked: L = (0.3, 0.9, 0.1, 0.9, 0.5)", () => {
    // alpha 0.4: k = ⌈2⌉ = 2, the two 0.9s. alpha 0.5: k = ⌈2.5⌉ = 3, add 0.5. alpha 0.2: k = 1, the first 0.9.
    expectClose(weightsFor([0.3, 0.9, 0.1, 0.9, 0.5], 0.4), [0, 0.5, 0, 0.5, 0]);
    expectClose(weightsFor([0.3, 0.9, 0.1, 0.9, 0.5], 0.5), [0, 1 / 3, 0, 1 / 3, 1 / 3]);
    expectClose(weightsFor([0.3, 0.9, 0.1, 0.9, 0.5], 0.2), [0, 1, 0, 0, 0]);
    expectClose(weightsFor([0.3, 0.9, 0.1, 0.9, 0.5], 1), [0.2, 0.2, 0.2, 0.2, 0.2]);
  });

  it("breaks ties toward the lower task index", () => {
    // k = 2 of three tied maxima: tasks 1 and 2, not 3.
    expectClose(weightsFor([1, 2, 2, 2], 0.5), [0, 0.5, 0.5, 0]);
    expectClose(weightsFor([5, 5, 5], 0.01), [1, 0, 0]);
  });

  it("alpha = 0.28 with N = 25 keeps 7 tasks, not 8", () => {
    const losses = Array.from({ length: 25 }, (_, i) => i / 10);
    const weights = weightsFor(losses, 0.28);
    expect(weights.filter((w) => w > 0)).toHaveLength(7);
    expectClose(
      weights.slice(18),
      Array.from({ length: 7 }, () => 1 / 7),
    );
  });

  it("matches an independent counting reference on random losses (with ties)", () => {
    const losses = fc.array(
      fc.integer({ min: 0, max: 6 }).map((x) => x / 4),
      { minLength: 1, maxLength: 40 },
    );
    fc.assert(
      fc.property(losses, fc.integer({ min: 1, max: 100 }), (values, percent) => {
        expectClose(weightsFor(values, percent / 100), referenceWeights(values, percent));
      }),
    );
  });

  it("properties: Σw = 1, w ≥ 0, exactly k non-zero weights, and alpha = 1 is uniform", () => {
    const losses = fc.array(fc.float({ min: 0, max: 100, noNaN: true }), { minLength: 1, maxLength: 30 });
    fc.assert(
      fc.property(losses, fc.double({ min: 1e-6, max: 1, noNaN: true }), (values, alpha) => {
        const weights = weightsFor(values, alpha);
        expect(Math.abs(weights.reduce((a, b) => a + b, 0) - 1)).toBeLessThanOrEqual(1e-6);
        expect(weights.every((w) => w >= 0)).toBe(true);
        expect(weights.filter((w) => w > 0)).toHaveLength(tailCount(alpha, values.length));
        expectClose(
          weightsFor(values, 1),
          values.map(() => 1 / values.length),
        );
      }),
    );
  });

  it("is permutation equivariant for distinct losses", () => {
    const distinct = fc.uniqueArray(fc.integer({ min: 0, max: 1000 }), { minLength: 1, maxLength: 20 }).chain((values) =>
      fc
        .shuffledSubarray(
          values.map((_, i) => i),
          { minLength: values.length, maxLength: values.length },
        )
        .map((order) => ({ values, order })),
    );
    fc.assert(
      fc.property(distinct, fc.double({ min: 0.01, max: 1, noNaN: true }), ({ values, order }, alpha) => {
        const weights = weightsFor(values, alpha);
        expectClose(
          weightsFor(
            order.map((i) => values[i]!),
            alpha,
          ),
          order.map((i) => weights[i]!),
        );
      }),
    );
  });

  it("does not leak tensors", () => {
    const scheme = tailRisk({ alpha: 0.3 });
    const updates = tf.zeros([6, 4]) as tf.Tensor2D;
    const losses = tf.tensor1d([1, 4, 2, 8, 5, 7]);
    expect(tensorGrowth(() => tf.dispose(scheme.weights({ updates, losses, iteration: 0 }).weights), 10)).toBe(0);
    tf.dispose([updates, losses]);
  });

  it("refuses non-finite or mis-shaped losses with a ConcordError naming losses", () => {
    const updates = tf.zeros([3, 2]) as tf.Tensor2D;
    for (const bad of [Number.NaN, Number.POSITIVE_INFINITY]) {
      const losses = tf.tensor1d([1, bad, 2]);
      expectConcordError(() => tailRisk({ alpha: 0.5 }).weights({ updates, losses, iteration: 0 }), "losses", new RegExp(`L_1 = ${bad}`));
      losses.dispose();
    }
    const short = tf.tensor1d([1, 2]);
    expectConcordError(() => tailRisk({ alpha: 0.5 }).weights({ updates, losses: short, iteration: 0 }), "losses", /Tensor1D of 3 query losses/);
    tf.dispose([updates, short]);
  });
});

describe("tailRisk options", () => {
  it("refuses alpha outside (0, 1] with a ConcordError naming alpha", () => {
    for (const alpha of [0, -0.1, 1.5, Number.NaN, Number.POSITIVE_INFINITY, "0.5", undefined]) {
      expectConcordError(() => tailRisk({ alpha: alpha as number }), "alpha", /expected a number in \(0, 1\]/);
    }
    expectConcordError(() => tailRisk(undefined as unknown as { alpha: number }), "alpha");
  });
});
