import { createRng } from "@concord/core";
import { describe, expect, it } from "vitest";
import { bootstrapStandardError, conditionalValueAtRisk, seedLevelInterval, studentT975, tailCount, tailSummary, worstGroup } from "./tail-statistics.js";

describe("tail statistics against hand-worked values", () => {
  it("tailCount is max(1, ⌈α·n⌉) without floating-point overshoot", () => {
    expect(tailCount(0.1, 30)).toBe(3); // 0.1·30 = 3.0000000000000004 in float64
    expect(tailCount(0.3, 10)).toBe(3);
    expect(tailCount(0.1, 5)).toBe(1); // ⌈0.5⌉
    expect(tailCount(0.05, 10)).toBe(1);
    expect(tailCount(0.1, 600)).toBe(60);
    expect(tailCount(1, 7)).toBe(7);
    expect(tailCount(0.11, 10)).toBe(2);
  });

  it("CVaR is the mean of the worst ⌈α·n⌉ values at the chosen end", () => {
    expect(conditionalValueAtRisk([1, 5, 3, 2, 4], 0.4, "high")).toBe(4.5); // (5 + 4) / 2
    expect(conditionalValueAtRisk([1, 5, 3, 2, 4], 0.4, "low")).toBe(1.5); // (1 + 2) / 2
    expect(conditionalValueAtRisk([1, 5, 3, 2, 4], 1, "high")).toBe(3); // the mean
    expect(conditionalValueAtRisk([0.9, 1, 0.2], 0.1, "low")).toBe(0.2);
    expect(() => conditionalValueAtRisk([1, 2], 0, "high")).toThrow(/alpha/);
  });

  it("the worst group is the one with the worst mean, with its own CI", () => {
    const values = [1, 2, 10, 12, 5, 5, 100];
    const groups = [0, 0, 1, 1, 2, 2, 3]; // group 3 has one task: no CI, skipped
    const high = worstGroup(values, groups, ["a", "b", "c", "d"], "high");
    expect(high).toMatchObject({ group: 1, name: "b", tasks: 2, mean: 11 });
    expect(high.ci95).toBeCloseTo(1.96, 12); // s = √2, n = 2
    const low = worstGroup(values, groups, undefined, "low");
    expect(low).toMatchObject({ group: 0, name: "0", tasks: 2, mean: 1.5 });
    expect(low.ci95).toBeCloseTo((1.96 * Math.SQRT1_2) / Math.SQRT2, 12); // s = √0.5, n = 2
    expect(() => worstGroup([1, 2], [0], undefined, "high")).toThrow(/one group per value/);
  });

  it("seed-level intervals use Student's t with n − 1 degrees of freedom", () => {
    const interval = seedLevelInterval([1, 2, 3]); // s = 1
    expect(interval.mean).toBe(2);
    expect(interval.ci95).toBeCloseTo(4.303 / Math.sqrt(3), 12);
    expect(seedLevelInterval([4]).ci95).toBeNaN();
    expect(studentT975(4)).toBe(2.776);
    // Beyond the table, the expansion against published quantiles.
    expect(studentT975(40)).toBeCloseTo(2.021, 3);
    expect(studentT975(60)).toBeCloseTo(2.0, 3);
    expect(studentT975(120)).toBeCloseTo(1.98, 3);
  });

  it("the bootstrap standard error of the mean approaches s/√n, and is reproducible per seed", () => {
    const rng = createRng(2);
    const values = Array.from({ length: 400 }, () => rng.normal());
    const mean = (sample: number[]) => sample.reduce((sum, v) => sum + v, 0) / sample.length;
    const m = mean(values);
    const s = Math.sqrt(values.reduce((sum, v) => sum + (v - m) ** 2, 0) / 399);
    const se = bootstrapStandardError(values, mean, 2000, 7);
    expect(Math.abs(se / (s / 20) - 1)).toBeLessThan(0.1);
    expect(bootstrapStandardError(values, mean, 2000, 7)).toBe(se);
  });

  it("tailSummary puts the three together and names the worst group", () => {
    const values = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0];
    const summary = tailSummary(values, { worse: "high", groups: [0, 0, 0, 0, 0, 1, 1, 1, 1, 1], groupNames: ["easy", "hard"], resamples: 200 });
    expect(summary.tasks).toBe(10);
    expect(summary.mean.mean).toBeCloseTo(0.55, 12);
    expect(summary.cvar).toMatchObject({ alpha: 0.1, mean: 1.0 });
    expect(summary.cvar.ci95).toBeGreaterThan(0);
    expect(summary.worstGroup).toMatchObject({ name: "hard", tasks: 5 });
    expect(summary.worstGroup!.mean).toBeCloseTo(0.8, 12);
    expect(tailSummary(values, { worse: "high" }).worstGroup).toBeUndefined();
  });
});
