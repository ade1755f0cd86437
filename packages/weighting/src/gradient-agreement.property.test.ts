import * as tf from "@tensorflow/tfjs-core";
import { describeEachBackend } from "@concord/core/testing";
import fc from "fast-check";
import { expect, it } from "vitest";
import { gradientAgreement } from "./gradient-agreement.js";

/** Independent float64 reference: the paper formula with the full N×N Gram matrix (O(N²P)). */
function referenceWeights(rows: readonly (readonly number[])[]): number[] {
  const agreement = rows.map((gi) => rows.reduce((total, gj) => total + gi.reduce((dot, value, p) => dot + value * gj[p]!, 0), 0));
  const denominator = agreement.reduce((total, value) => total + Math.abs(value), 0);
  return agreement.map((value) => value / denominator);
}

function run(rows: readonly (readonly number[])[], eps = 0): { weights: number[]; fellBack: boolean | undefined } {
  const updates = tf.tensor2d(rows as number[][]);
  const losses = tf.zeros([rows.length]) as tf.Tensor1D;
  const result = gradientAgreement({ eps }).weights({ updates, losses, iteration: 0 });
  const weights = Array.from(result.weights.dataSync());
  tf.dispose([updates, losses, result.weights]);
  return { weights, fellBack: result.fellBack };
}

/** D / Σ‖g_k‖² in float64: how far from the degenerate (cancelling) case a batch is. */
function conditioning(rows: readonly (readonly number[])[]): number {
  const norms = rows.reduce((total, row) => total + row.reduce((sum, value) => sum + value * value, 0), 0);
  const denominator = rows
    .map((gi) => rows.reduce((total, gj) => total + gi.reduce((dot, value, p) => dot + value * gj[p]!, 0), 0))
    .reduce((total, value) => total + Math.abs(value), 0);
  return norms === 0 ? 0 : denominator / norms;
}

const value = fc.float({ min: -10, max: 10, noNaN: true, noDefaultInfinity: true }).map((x) => (Math.abs(x) < 1e-6 ? 0 : x)); // no subnormals: scaled copies must stay representable
/** N in [1, 6] rows of P in [1, 8] float32 values. */
const matrix = fc
  .tuple(fc.integer({ min: 1, max: 6 }), fc.integer({ min: 1, max: 8 }))
  .chain(([tasks, size]) => fc.array(fc.array(value, { minLength: size, maxLength: size }), { minLength: tasks, maxLength: tasks }));
/** Well-conditioned batches, where float32 round-off cannot dominate the weights. */
const wellConditioned = matrix.filter((rows) => conditioning(rows) > 1e-2);

const maxAbsDiff = (a: readonly number[], b: readonly number[]) => Math.max(...a.map((x, i) => Math.abs(x - b[i]!)));

describeEachBackend("gradientAgreement properties", () => {
  it("matches an independent float64 O(N²P) implementation to 1e-5", () => {
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
        const sum = run(rows).weights.reduce((total, w) => total + Math.abs(w), 0);
        expect(Math.abs(sum - 1)).toBeLessThanOrEqual(1e-5);
      }),
    );
  });

  it("is permutation equivariant: permuting the tasks permutes the weights", () => {
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
        const permutedWeights = run(order.map((i) => rows[i]!)).weights;
        expect(
          maxAbsDiff(
            permutedWeights,
            order.map((i) => weights[i]!),
          ),
        ).toBeLessThanOrEqual(1e-5);
      }),
    );
  });

  it("is invariant to scaling every g_i by c > 0", () => {
    fc.assert(
      fc.property(wellConditioned, fc.constantFrom(1e-30, 1e-12, 1e-3, 0.37, 1, 3.5, 1e3, 1e12, 1e28), (rows, scale) => {
        // Float32 squares of 1e-30 underflow and of 1e28 overflow: the scheme must not care.
        const scaled = rows.map((row) => row.map((x) => x * scale));
        expect(maxAbsDiff(run(scaled).weights, run(rows).weights)).toBeLessThanOrEqual(1e-5);
      }),
    );
  });

  it("gives 1/N to identical rows", () => {
    const identical = fc
      .tuple(fc.integer({ min: 1, max: 8 }), fc.array(value, { minLength: 1, maxLength: 10 }))
      .filter(([, row]) => row.some((x) => Math.abs(x) > 1e-3));
    fc.assert(
      fc.property(identical, ([tasks, row]) => {
        const { weights, fellBack } = run(Array.from({ length: tasks }, () => row));
        expect(fellBack).toBe(false);
        expect(
          maxAbsDiff(
            weights,
            weights.map(() => 1 / tasks),
          ),
        ).toBeLessThanOrEqual(1e-6);
      }),
    );
  });

  it("falls back to finite uniform weights when the updates sum exactly to zero", () => {
    // Small integers keep every sum exact in float32, so Σ_j g_j is exactly 0 and so is D.
    const cancelling = fc
      .tuple(fc.integer({ min: 1, max: 5 }), fc.integer({ min: 1, max: 6 }))
      .chain(([free, size]) =>
        fc.array(fc.array(fc.integer({ min: -50, max: 50 }), { minLength: size, maxLength: size }), { minLength: free, maxLength: free }),
      )
      .map((rows) => [...rows, rows[0]!.map((_, p) => -rows.reduce((total, row) => total + row[p]!, 0))]);
    fc.assert(
      fc.property(cancelling, (rows) => {
        const { weights, fellBack } = run(rows);
        expect(fellBack).toBe(true);
        expect(weights.every(Number.isFinite)).toBe(true);
        expect(
          maxAbsDiff(
            weights,
            weights.map(() => 1 / rows.length),
          ),
        ).toBeLessThanOrEqual(1e-7);
      }),
    );
  });
});
