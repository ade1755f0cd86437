import * as tf from "@tensorflow/tfjs-core";
import { describeEachBackend } from "@concord/core/testing";
import fc from "fast-check";
import { expect, it } from "vitest";
import { cosineAgreement } from "./cosine-agreement.js";

/**
 * Independent float64 reference, a different formulation from the scheme's (unit vectors, one
 * matrix product): the pairwise double loop of cosines, s_i = Σ_j cos(g_i, g_j) with cos = 0
 * against a zero row, w_i = s_i / Σ_k |s_k|.
 */
function referenceWeights(rows: readonly (readonly number[])[]): number[] {
  const norms = rows.map((row) => Math.hypot(...row));
  const cosine = (i: number, j: number) => {
    if (norms[i] === 0 || norms[j] === 0) return 0;
    let dot = 0;
    for (let p = 0; p < rows[i]!.length; p++) dot += rows[i]![p]! * rows[j]![p]!;
    return dot / (norms[i]! * norms[j]!);
  };
  const s = rows.map((_, i) => rows.reduce((total, _row, j) => total + cosine(i, j), 0));
  const denominator = s.reduce((total, value) => total + Math.abs(value), 0);
  return s.map((value) => value / denominator);
}

/** D / (number of non-zero rows) in float64: how far from the cancelling (fallback) case a batch is. */
function conditioning(rows: readonly (readonly number[])[]): number {
  const units = rows.map((row) => {
    const length = Math.hypot(...row);
    return row.map((x) => (length === 0 ? 0 : x / length));
  });
  const nonZero = rows.filter((row) => row.some((x) => x !== 0)).length;
  const total = units[0]!.map((_, p) => units.reduce((sum, u) => sum + u[p]!, 0));
  const denominator = units.reduce((sum, u) => sum + Math.abs(u.reduce((dot, x, p) => dot + x * total[p]!, 0)), 0);
  return nonZero === 0 ? 0 : denominator / nonZero;
}

function run(rows: readonly (readonly number[])[]): { weights: number[]; fellBack: boolean | undefined } {
  const updates = tf.tensor2d(rows as number[][]);
  const losses = tf.zeros([rows.length]) as tf.Tensor1D;
  const result = cosineAgreement().weights({ updates, losses, iteration: 0 });
  const weights = Array.from(result.weights.dataSync());
  tf.dispose([updates, losses, result.weights]);
  return { weights, fellBack: result.fellBack };
}

// Values are float32-representable and not subnormal, so scaled copies stay exact.
const value = fc.float({ min: -10, max: 10, noNaN: true, noDefaultInfinity: true }).map((x) => (Math.abs(x) < 1e-6 ? 0 : x));
const matrix = fc
  .tuple(fc.integer({ min: 1, max: 6 }), fc.integer({ min: 1, max: 8 }))
  .chain(([tasks, size]) => fc.array(fc.array(value, { minLength: size, maxLength: size }), { minLength: tasks, maxLength: tasks }));
/** Batches whose unit vectors do not nearly cancel, where float32 round-off cannot dominate. */
const wellConditioned = matrix.filter((rows) => conditioning(rows) > 1e-2);
const maxAbsDiff = (a: readonly number[], b: readonly number[]) => Math.max(...a.map((x, i) => Math.abs(x - b[i]!)));

describeEachBackend("cosineAgreement properties", () => {
  it("matches an independent float64 pairwise-cosine implementation to 1e-5", () => {
    fc.assert(
      fc.property(wellConditioned, (rows) => {
        const { weights, fellBack } = run(rows);
        expect(fellBack).toBe(false);
        expect(maxAbsDiff(weights, referenceWeights(rows))).toBeLessThanOrEqual(1e-5);
      }),
      { numRuns: 150 },
    );
  });

  it("Σ_i |w_i| = 1", () => {
    fc.assert(
      fc.property(wellConditioned, (rows) => {
        expect(Math.abs(run(rows).weights.reduce((total, w) => total + Math.abs(w), 0) - 1)).toBeLessThanOrEqual(1e-5);
      }),
    );
  });

  it("is permutation equivariant", () => {
    const permuted = wellConditioned.chain((rows) =>
      fc
        .shuffledSubarray(
          rows.map((_, i) => i),
          { minLength: rows.length, maxLength: rows.length },
        )
        .map((order) => ({ rows, order })),
    );
    fc.assert(
      fc.property(permuted, ({ rows, order }) => {
        const weights = run(rows).weights;
        expect(
          maxAbsDiff(
            run(order.map((i) => rows[i]!)).weights,
            order.map((i) => weights[i]!),
          ),
        ).toBeLessThanOrEqual(1e-5);
      }),
    );
  });

  it("is invariant to scaling each row by its own c_i > 0, including scales whose float32 squares overflow or underflow", () => {
    const scales = fc.constantFrom(1e-30, 1e-12, 1e-3, 0.37, 1, 3.5, 1e3, 1e12, 1e28);
    const scaledBatch = wellConditioned.chain((rows) => fc.array(scales, { minLength: rows.length, maxLength: rows.length }).map((c) => ({ rows, c })));
    fc.assert(
      fc.property(scaledBatch, ({ rows, c }) => {
        const scaled = rows.map((row, i) => row.map((x) => x * c[i]!));
        expect(maxAbsDiff(run(scaled).weights, run(rows).weights)).toBeLessThanOrEqual(1e-5);
      }),
    );
  });

  it("gives 1/N to rows pointing the same way, whatever their lengths", () => {
    const sameDirection = fc
      .tuple(fc.array(value, { minLength: 1, maxLength: 10 }), fc.array(fc.double({ min: 1e-3, max: 1e3, noNaN: true }), { minLength: 1, maxLength: 8 }))
      .filter(([row]) => row.some((x) => Math.abs(x) > 1e-3));
    fc.assert(
      fc.property(sameDirection, ([row, lengths]) => {
        const { weights, fellBack } = run(lengths.map((c) => row.map((x) => x * c)));
        expect(fellBack).toBe(false);
        expect(
          maxAbsDiff(
            weights,
            weights.map(() => 1 / lengths.length),
          ),
        ).toBeLessThanOrEqual(1e-6);
      }),
    );
  });
});
