import { describe, expect, it } from "vitest";
import { pairedDifference } from "./paired-difference.js";

describe("pairedDifference", () => {
  it("is the mean ± 1.96·s/√n of the per-task differences b − a (hand-worked)", () => {
    // Accuracy differences at step 1: 0, +1, −1, +1 → mean 0.25; s² = (0.0625 + 0.5625 + 1.5625 + 0.5625)/3 = 0.91667.
    const a = {
      perTaskLoss: [
        [2, 2, 2, 2],
        [1, 0.5, 0.25, 1],
      ],
      perTaskAccuracy: [
        [0, 0, 0, 0],
        [1, 0, 1, 0],
      ],
    };
    const b = {
      perTaskLoss: [
        [2, 2, 2, 2],
        [0.5, 0.5, 1, 0],
      ],
      perTaskAccuracy: [
        [0, 0, 0, 0],
        [1, 1, 0, 1],
      ],
    };
    const paired = pairedDifference(a, b);
    expect(paired.taskCount).toBe(4);
    expect(paired.accuracy![1]!.mean).toBe(0.25);
    expect(paired.accuracy![1]!.ci95).toBeCloseTo((1.96 * Math.sqrt(0.91666666667)) / 2, 10);
    expect(paired.accuracy![1]).toMatchObject({ step: 1, above: 2, below: 1 });
    // Loss differences −0.5, 0, 0.75, −1: mean −0.1875, two below, one above.
    expect(paired.loss[1]).toMatchObject({ mean: -0.1875, above: 1, below: 2 });
    expect(paired.loss[0]).toMatchObject({ mean: 0, ci95: 0, above: 0, below: 0 });
  });

  it("is tighter than the two separate CIs when the tasks' difficulty is shared", () => {
    const difficulty = Array.from({ length: 200 }, (_, i) => Math.sin(i * 12.9898) * 0.5);
    const a = { perTaskLoss: [difficulty] };
    const b = { perTaskLoss: [difficulty.map((d, i) => d + 0.01 + (i % 2 ? 0.001 : -0.001))] };
    const paired = pairedDifference(a, b);
    expect(paired.loss[0]!.mean).toBeCloseTo(0.01, 12);
    expect(paired.loss[0]!.ci95).toBeLessThan(0.001);
    expect(paired.accuracy).toBeUndefined();
  });

  it("refuses evaluations of different task sets, naming the field", () => {
    const a = { perTaskLoss: [[1, 2, 3]] };
    expect(() => pairedDifference(a, { perTaskLoss: [[1, 2]] })).toThrow(/b\.perTaskLoss: expected 3 tasks like a, got 2/);
    expect(() =>
      pairedDifference(a, {
        perTaskLoss: [
          [1, 2, 3],
          [1, 2, 3],
        ],
      }),
    ).toThrow(/b\.perTaskLoss: expected 0 inner steps like a, got 1/);
    expect(() => pairedDifference({ perTaskLoss: [] }, a)).toThrow(/a\.perTaskLoss: expected per-task losses/);
    expect(() => pairedDifference({ perTaskLoss: [[1]] }, { perTaskLoss: [[2]] })).toThrow(/a\.perTaskLoss: expected at least 2 tasks/);
  });
});
