import * as tf from "@tensorflow/tfjs-core";
import { describeEachBackend, expectConcordError, tensorGrowth } from "@concord/core/testing";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { lossSoftmax } from "./loss-softmax.js";

function weightsFor(losses: readonly number[], temperature?: number): number[] {
  const updates = tf.zeros([losses.length, 2]) as tf.Tensor2D;
  const lossTensor = tf.tensor1d(losses as number[]);
  try {
    const result = lossSoftmax(temperature === undefined ? {} : { temperature }).weights({ updates, losses: lossTensor, iteration: 0 });
    const weights = Array.from(result.weights.dataSync());
    result.weights.dispose();
    return weights;
  } finally {
    tf.dispose([updates, lossTensor]);
  }
}

/**
 * Independent float64 reference through the log-partition function instead of the max shift:
 * w_i = exp(L_i/τ − log Σ_j exp(L_j/τ)), with the plain sum (safe for the moderate exponents used).
 */
function referenceWeights(losses: readonly number[], temperature: number): number[] {
  const logPartition = Math.log(losses.reduce((sum, loss) => sum + Math.exp(loss / temperature), 0));
  return losses.map((loss) => Math.exp(loss / temperature - logPartition));
}

const maxAbsDiff = (a: readonly number[], b: readonly number[]) => Math.max(...a.map((x, i) => Math.abs(x - b[i]!)));
const expectClose = (actual: number[], expected: number[], tolerance = 1e-6) => expect(maxAbsDiff(actual, expected)).toBeLessThanOrEqual(tolerance);
/** float32-representable losses, so the tensor holds exactly what the reference sees. */
const loss = fc.float({ min: 0, max: 10, noNaN: true });

describeEachBackend("lossSoftmax", () => {
  it("hand-worked: L = (0, ln 2, ln 3) → (1/6, 1/3, 1/2) at τ = 1 and (1, 4, 9)/14 at τ = 0.5", () => {
    // exp(L/τ) = (1, 2, 3) at τ = 1 and (1, 4, 9) at τ = 0.5 (Math.fround: the losses are float32).
    const losses = [0, Math.log(2), Math.log(3)].map(Math.fround);
    expectClose(weightsFor(losses), [1 / 6, 1 / 3, 1 / 2]);
    expectClose(weightsFor(losses, 0.5), [1 / 14, 4 / 14, 9 / 14]);
  });

  it("does not overflow for large losses: L = (1000, 1001) → (1, e)/(1 + e), where exp(1000) is Infinity", () => {
    expect(Math.exp(1000)).toBe(Number.POSITIVE_INFINITY);
    expectClose(weightsFor([1000, 1001]), [1 / (1 + Math.E), Math.E / (1 + Math.E)]);
    expectClose(weightsFor([3e38, 3e38, 0]), [0.5, 0.5, 0]);
  });

  it("a tiny temperature puts all the weight on the highest loss (shared between ties), no NaN", () => {
    expectClose(weightsFor([2, 3, 1], 1e-300), [0, 1, 0]);
    expectClose(weightsFor([2, 2, 1], 1e-300), [0.5, 0.5, 0]);
  });

  it("matches an independent float64 reference on random losses and temperatures", () => {
    fc.assert(
      fc.property(fc.array(loss, { minLength: 1, maxLength: 20 }), fc.double({ min: 0.1, max: 100, noNaN: true }), (losses, temperature) => {
        expectClose(weightsFor(losses, temperature), referenceWeights(losses, temperature));
      }),
    );
  });

  it("properties: Σw = 1, w > 0 for moderate τ, ordered like the losses, and τ → ∞ gives 1/N", () => {
    fc.assert(
      fc.property(fc.array(loss, { minLength: 1, maxLength: 20 }), fc.double({ min: 0.5, max: 50, noNaN: true }), (losses, temperature) => {
        const weights = weightsFor(losses, temperature);
        expect(Math.abs(weights.reduce((a, b) => a + b, 0) - 1)).toBeLessThanOrEqual(1e-6);
        expect(weights.every((w) => w > 0)).toBe(true);
        losses.forEach((li, i) =>
          losses.forEach((lj, j) => {
            if (li > lj) expect(weights[i]).toBeGreaterThanOrEqual(weights[j]!);
          }),
        );
        expectClose(
          weightsFor(losses, 1e12),
          losses.map(() => 1 / losses.length),
          1e-7,
        );
      }),
    );
  });

  it("is permutation equivariant", () => {
    const permuted = fc.array(loss, { minLength: 1, maxLength: 15 }).chain((losses) =>
      fc
        .shuffledSubarray(
          losses.map((_, i) => i),
          { minLength: losses.length, maxLength: losses.length },
        )
        .map((order) => ({ losses, order })),
    );
    fc.assert(
      fc.property(permuted, ({ losses, order }) => {
        const weights = weightsFor(losses, 0.7);
        expectClose(
          weightsFor(
            order.map((i) => losses[i]!),
            0.7,
          ),
          order.map((i) => weights[i]!),
          1e-7,
        );
      }),
    );
  });

  it("does not leak tensors", () => {
    const scheme = lossSoftmax({ temperature: 2 });
    const updates = tf.zeros([4, 3]) as tf.Tensor2D;
    const losses = tf.tensor1d([0.5, 1, 2, 0.1]);
    expect(tensorGrowth(() => tf.dispose(scheme.weights({ updates, losses, iteration: 0 }).weights), 10)).toBe(0);
    tf.dispose([updates, losses]);
  });

  it("refuses non-finite or mis-shaped losses with a ConcordError naming losses", () => {
    const updates = tf.zeros([2, 2]) as tf.Tensor2D;
    const nan = tf.tensor1d([Number.NaN, 1]);
    expectConcordError(() => lossSoftmax().weights({ updates, losses: nan, iteration: 0 }), "losses", /needs finite query losses, got L_0 = NaN/);
    const matrix = tf.zeros([2, 1]);
    expectConcordError(() => lossSoftmax().weights({ updates, losses: matrix as tf.Tensor1D, iteration: 0 }), "losses", /got a tensor of shape \[2,1\]/);
    tf.dispose([updates, nan, matrix]);
  });
});

describe("lossSoftmax options", () => {
  it("defaults to temperature 1 and refuses a temperature that is not a finite number > 0", () => {
    expect(lossSoftmax().name).toBe("lossSoftmax");
    for (const temperature of [0, -1, Number.NaN, Number.POSITIVE_INFINITY, "1", null]) {
      expectConcordError(() => lossSoftmax({ temperature: temperature as number }), "temperature", /expected a finite number > 0/);
    }
  });
});
