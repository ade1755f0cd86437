import * as tf from "@tensorflow/tfjs-core";
import "@tensorflow/tfjs-backend-cpu";
import { testWeightingScheme } from "@concord/weighting/testing";
import { describe, expect, it } from "vitest";
import { cosineAgreement } from "./cosine-agreement.js";

// The whole WeightingScheme contract, as for Concord's own schemes (Σ|w| = 1 like gradient agreement).
testWeightingScheme(() => cosineAgreement(), { sumAbsToOne: true });

describe("cosineAgreement", () => {
  const weightsOf = (rows: number[][]) =>
    tf.tidy(() => {
      const result = cosineAgreement().weights({ updates: tf.tensor2d(rows), losses: tf.zeros([rows.length]), iteration: 0 });
      return { weights: Array.from(result.weights.dataSync()), fellBack: result.fellBack };
    });

  it("matches a hand-worked example", () => {
    // u = (1,0), (0,1), (−1,0): Σu = (0,1); s = (0, 1, 0)/3 → w = (0, 1, 0).
    const { weights, fellBack } = weightsOf([
      [2, 0],
      [0, 5],
      [-3, 0],
    ]);
    expect(fellBack).toBe(false);
    expect(weights[0]).toBeCloseTo(0, 6);
    expect(weights[1]).toBeCloseTo(1, 6);
    expect(weights[2]).toBeCloseTo(0, 6);
  });

  it("ignores update lengths and gives equal directions 1/N", () => {
    expect(
      weightsOf([
        [1, 1],
        [100, 100],
        [1e-20, 1e-20],
      ]).weights.map((w) => w.toFixed(6)),
    ).toEqual(["0.333333", "0.333333", "0.333333"]);
  });

  it("falls back to uniform when the batch cancels out", () => {
    expect(
      weightsOf([
        [1, 0],
        [-1, 0],
      ]),
    ).toEqual({ weights: [0.5, 0.5], fellBack: true });
  });
});
