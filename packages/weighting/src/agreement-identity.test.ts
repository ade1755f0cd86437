import * as tf from "@tensorflow/tfjs-core";
import { createRng } from "@concord/core";
import { describeEachBackend } from "@concord/core/testing";
import { expect, it } from "vitest";
import { gradientAgreement } from "./gradient-agreement.js";

/**
 * The identity behind gradient agreement's behaviour (docs/GRADIENT-AGREEMENT.md): with
 * S = Σ_j g_j and D = Σ_k |g_kᵀ S|, the weighted direction is
 *
 *     Σ_i w_i G_i = (Σ_i G_i g_iᵀ) S / D,
 *
 * for Reptile (G_i = g_i) the uniform direction S multiplied by the uncentred second-moment matrix
 * Σ_i g_i g_iᵀ of the task updates. The right-hand side is computed here in float64 from the matrix
 * itself (P × P), independently of the scheme's O(N·P) computation.
 */
function randomMatrix(rows: number, columns: number, seed: number, scale = 1): number[][] {
  const rng = createRng(seed);
  return Array.from({ length: rows }, (_, i) => Array.from({ length: columns }, () => (rng.normal() + (i % 3 === 0 ? 0.5 : 0)) * scale));
}

function schemeWeights(updates: number[][]): number[] {
  const input = { updates: tf.tensor2d(updates), losses: tf.zeros([updates.length]) as tf.Tensor1D, iteration: 0 };
  try {
    const result = gradientAgreement().weights(input);
    const weights = Array.from(result.weights.dataSync());
    result.weights.dispose();
    return weights;
  } finally {
    tf.dispose([input.updates, input.losses]);
  }
}

/** (Σ_i G_i g_iᵀ) S / D in float64, through the explicit P × P moment matrix. */
function momentForm(directions: number[][], updates: number[][]): number[] {
  const size = updates[0]!.length;
  const total = Array.from({ length: size }, (_, p) => updates.reduce((sum, g) => sum + g[p]!, 0));
  const denominator = updates.reduce((sum, g) => sum + Math.abs(g.reduce((dot, value, p) => dot + value * total[p]!, 0)), 0);
  const moment = Array.from({ length: directions[0]!.length }, (_, a) =>
    Array.from({ length: size }, (_, b) => directions.reduce((sum, G, i) => sum + G[a]! * updates[i]![b]!, 0)),
  );
  return moment.map((row) => row.reduce((sum, value, b) => sum + value * total[b]!, 0) / denominator);
}

function weightedSum(weights: readonly number[], rows: number[][]): number[] {
  return rows[0]!.map((_, p) => rows.reduce((sum, row, i) => sum + weights[i]! * row[p]!, 0));
}

function expectRelativelyClose(actual: number[], expected: number[], tolerance: number): void {
  const scale = Math.max(...expected.map(Math.abs));
  const worst = Math.max(...actual.map((value, i) => Math.abs(value - expected[i]!)));
  expect(worst / scale, `max |Δ| ${worst} against max |expected| ${scale}`).toBeLessThan(tolerance);
}

describeEachBackend("gradient agreement as a second-moment operator", () => {
  it("Reptile: Σ_i w_i g_i = (Σ_i g_i g_iᵀ) S / D for random updates (8 tasks, 12 parameters)", () => {
    for (const seed of [1, 2, 3]) {
      const updates = randomMatrix(8, 12, seed);
      expectRelativelyClose(weightedSum(schemeWeights(updates), updates), momentForm(updates, updates), 1e-5);
    }
  });

  it("MAML: Σ_i w_i G_i = (Σ_i G_i g_iᵀ) S / D with meta-gradients G_i unlike the updates", () => {
    const updates = randomMatrix(6, 10, 7);
    const metaGradients = randomMatrix(6, 5, 8);
    expectRelativelyClose(weightedSum(schemeWeights(updates), metaGradients), momentForm(metaGradients, updates), 1e-5);
  });

  it("the identity holds at any scale of the updates (weights are scale-invariant, D scales as c²)", () => {
    const updates = randomMatrix(5, 7, 11, 1e-3);
    const weights = schemeWeights(updates);
    expectRelativelyClose(weights, schemeWeights(updates.map((row) => row.map((value) => value * 1e3))), 1e-5);
    expectRelativelyClose(weightedSum(weights, updates), momentForm(updates, updates), 1e-5);
  });

  it("a task whose update is orthogonal to S gets weight 0, however large its update", () => {
    const updates = [
      [1, 1, 0],
      [1, -1, 0],
      [0, 0, 50],
      [0, 0, -50],
    ];
    // S = (2, 0, 0); s = (2, 2, 0, 0): the large, mutually cancelling updates get no weight.
    expectRelativelyClose(schemeWeights(updates), [0.5, 0.5, 0, 0], 1e-6);
  });
});
