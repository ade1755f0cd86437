import { describe, expect, it } from "vitest";
import {
  binWeights,
  diagnosticSeries,
  hasDiagnostic,
  lateMean,
  movingAverage,
  quantileSorted,
  smoothingWindow,
  thinIndices,
  weightsAreUniform,
} from "./series.js";

describe("report series helpers", () => {
  it("movingAverage is centered and shrinks at the ends, skipping NaN", () => {
    expect(movingAverage([1, 2, 3, 4, 5], 3)).toEqual([1.5, 2, 3, 4, 4.5]);
    expect(movingAverage([1, Number.NaN, 3], 3)).toEqual([1, 2, 3]);
    expect(movingAverage([4, 8], 1)).toEqual([4, 8]);
  });

  it("smoothingWindow is odd and about 1/25 of the run", () => {
    expect(smoothingWindow(10)).toBe(1);
    expect(smoothingWindow(1000)).toBe(41);
    expect(smoothingWindow(100) % 2).toBe(1);
  });

  it("thinIndices keeps the ends and at most `limit` points", () => {
    expect(thinIndices(5, 10)).toEqual([0, 1, 2, 3, 4]);
    const kept = thinIndices(1000, 11);
    expect(kept).toEqual([0, 100, 200, 300, 400, 500, 599, 699, 799, 899, 999]);
  });

  it("quantileSorted interpolates linearly (numpy's default): [1, 2, 3, 4] → q25 = 1.75, median 2.5", () => {
    expect(quantileSorted([1, 2, 3, 4], 0.25)).toBe(1.75);
    expect(quantileSorted([1, 2, 3, 4], 0.5)).toBe(2.5);
    expect(quantileSorted([1, 2, 3, 4], 0.9)).toBeCloseTo(3.7, 12);
    expect(quantileSorted([7], 0.3)).toBe(7);
  });

  it("binWeights pools weights per bin, counts negatives per batch and gives the uniform weight", () => {
    const snapshots = [
      { iteration: 2, weights: [0.5, -0.25, 0.25] },
      { iteration: 1, weights: [0.4, 0.3, 0.3] },
      { iteration: 3, weights: [-0.2, -0.2, 0.6] },
      { iteration: 4, weights: [1 / 3, 1 / 3, 1 / 3] },
    ];
    const bins = binWeights(snapshots, 2);
    expect(bins).toHaveLength(2);
    expect(bins[0]!.iteration).toBe(1.5);
    expect(bins[0]!.min).toBe(-0.25);
    expect(bins[0]!.max).toBe(0.5);
    expect(bins[0]!.median).toBeCloseTo(0.3, 12); // sorted: −0.25, 0.25, 0.3, 0.3, 0.4, 0.5
    expect(bins[0]!.negatives).toBe(0.5);
    expect(bins[1]!.negatives).toBe(1);
    expect(bins[1]!.uniform).toBeCloseTo(1 / 3, 12);
    expect(binWeights(snapshots, 10)).toHaveLength(4);
  });

  it("weightsAreUniform tells uniform runs apart", () => {
    expect(weightsAreUniform([{ weights: [0.25, 0.25, 0.25, 0.25] }])).toBe(true);
    expect(weightsAreUniform([{ weights: [0.25, 0.25, 0.25, 0.25] }, { weights: [0.5, 0.5, 0, 0] }])).toBe(false);
  });

  it("diagnosticSeries averages over the seeds that recorded the field at each iteration, sorted by iteration", () => {
    const curves = [
      [
        { iteration: 2, effectiveTasks: 4 },
        { iteration: 1, effectiveTasks: 2 },
      ],
      [{ iteration: 1, effectiveTasks: 6 }, { iteration: 2 }, { iteration: 3, effectiveTasks: Number.NaN }],
    ];
    expect(diagnosticSeries(curves, "effectiveTasks")).toEqual([
      { iteration: 1, value: 4 },
      { iteration: 2, value: 4 },
    ]);
    expect(diagnosticSeries(curves, "weightedCosine")).toEqual([]);
  });

  it("hasDiagnostic is false for curves from before the diagnostics", () => {
    expect(hasDiagnostic([[{ iteration: 1 }], []], "weightedCosine")).toBe(false);
    expect(hasDiagnostic([[{ iteration: 1 }], [{ iteration: 1, weightedCosine: 0.5 }]], "weightedCosine")).toBe(true);
  });

  it("lateMean pools the last 10% of iterations over seeds, and is undefined without data", () => {
    const ramp = Array.from({ length: 100 }, (_, i) => ({ iteration: i + 1, weightedCosine: i + 1 }));
    // Iterations 91..100 → mean 95.5; a second seed shifted down by 95.5 pools to 95.5 / 2.
    expect(lateMean([ramp], "weightedCosine")).toBe(95.5);
    expect(lateMean([ramp, ramp.map((p) => ({ ...p, weightedCosine: p.weightedCosine - 95.5 }))], "weightedCosine")).toBe(47.75);
    expect(lateMean([ramp], "weightedCosine", 0.5)).toBe(75.5);
    expect(lateMean([[{ iteration: 1 }]], "effectiveTasks")).toBeUndefined();
  });
});
