import { describe, expect, it } from "vitest";
import type { EvaluationResult } from "@concord/algorithms";
import { formatDuration, formatMeanCi, type ReportArm } from "@concord/report";
import { formatResultsTable } from "./table.js";

function arm(name: string, means: number[], ci: number, extra: Partial<ReportArm> = {}): ReportArm {
  const evaluation: EvaluationResult = {
    taskCount: 1200,
    loss: means.map((mean, step) => ({ step, mean, ci95: ci })),
    perTaskLoss: means.map(() => []),
    backend: "wasm",
  };
  return {
    name,
    algorithm: name.split("-")[0]!,
    weighting: name.split("-")[1]!,
    seeds: [1, 2],
    curves: [
      [
        { iteration: 1, queryLossAfter: 1, queryLossBefore: 2 },
        { iteration: 500, queryLossAfter: 0.5, queryLossBefore: 2 },
      ],
    ],
    weightSnapshots: [],
    evaluation,
    wallTimeSeconds: 83.2,
    ...extra,
  };
}

describe("formatMeanCi and formatDuration", () => {
  it("shows the interval to two significant digits", () => {
    expect(formatMeanCi(0.43214, 0.03121)).toBe("0.432 ± 0.031");
    expect(formatMeanCi(3.5, 0.25)).toBe("3.50 ± 0.25");
    expect(formatMeanCi(0.012345, 0.0004321)).toBe("0.01235 ± 0.00043");
    expect(formatMeanCi(12.3, 4.1)).toBe("12.30 ± 4.10");
    expect(formatMeanCi(0.5, Number.NaN)).toBe("0.5000 ± n/a");
    expect(formatMeanCi(Number.NaN, 0.1)).toBe("NaN");
  });

  it("formats wall times", () => {
    expect(formatDuration(42.34)).toBe("42.3 s");
    expect(formatDuration(83.2)).toBe("1 min 23 s");
    expect(formatDuration(3725)).toBe("1 h 02 min");
  });
});

describe("formatResultsTable", () => {
  const arms = [
    arm("maml-uniform", [3.1, 0.52, 0.48, 0.47], 0.031, { iterations: 1000 }),
    arm("maml-agreement", [3.0, 0.5, 0.44, 0.45], 0.029),
    arm("reptile-uniform", [2.9, 0.9, 0.8, 0.7], 0.05, { wallTimeSeconds: 3725, evaluation: { ...arm("x-y", [1, 1, 1, 1], 0).evaluation, backend: "cpu" } }),
  ];
  const table = formatResultsTable(arms);
  const lines = table.split("\n");

  it("has a caption, a header, a rule and one aligned row per arm", () => {
    expect(lines).toHaveLength(3 + arms.length);
    expect(lines[0]).toContain("95% CI = 1.96·s/√n");
    expect(lines[1]).toMatch(/^arm\s+final loss \(step 3\)\s+best step\s+tasks\s+iterations\s+wall time\s+backend$/);
    expect(lines[2]).toMatch(/^-+( +-+)+$/);
    const column = lines[1]!.indexOf("best step");
    for (const row of lines.slice(3)) expect(row[column - 1]).toBe(" ");
  });

  it("reports the final step, the best step, tasks, iterations, wall time and backend of each arm", () => {
    expect(lines[3]).toMatch(/^maml-uniform\s+0\.470 ± 0\.031\s+0\.470 ± 0\.031 @ 3\s+1200\s+1000\s+1 min 23 s\s+wasm$/);
    expect(lines[4]).toMatch(/^maml-agreement\s+0\.450 ± 0\.029\s+0\.440 ± 0\.029 @ 2\s+1200\s+500\s+1 min 23 s\s+wasm$/);
    expect(lines[5]).toMatch(/^reptile-uniform\s+1\.0000 ± 0\.0000\s+1\.0000 ± 0\.0000 @ 0\s+1200\s+500\s+1 h 02 min\s+cpu$/);
  });

  it("adds the final step's accuracy when every arm reports one", () => {
    const classify = (name: string, accuracy: number) => {
      const base = arm(name, [1.6, 0.2], 0.02);
      return {
        ...base,
        evaluation: {
          ...base.evaluation,
          accuracy: [
            { step: 0, mean: 0.2, ci95: 0 },
            { step: 1, mean: accuracy, ci95: 0.00664 },
          ],
        },
      };
    };
    const classified = formatResultsTable([classify("maml-uniform", 0.96867), classify("maml-agreement", 0.963)]).split("\n");
    expect(classified[1]).toMatch(/^arm\s+final loss \(step 1\)\s+accuracy\s+best step\s+tasks/);
    expect(classified[3]).toMatch(/^maml-uniform\s+0\.200 ± 0\.020\s+96\.87 ± 0\.66 %\s+0\.200 ± 0\.020 @ 1\s+1200/);
    expect(classified[4]).toMatch(/^maml-agreement\s+0\.200 ± 0\.020\s+96\.30 ± 0\.66 %/);
    // One arm without accuracy (a regression arm): no accuracy column at all.
    expect(formatResultsTable([classify("maml-uniform", 0.9), arm("maml-agreement", [1, 0.5], 0.1)])).not.toContain("accuracy");
  });

  it("labels a mixed final step generically", () => {
    const mixed = formatResultsTable([arm("a-b", [1, 0.5], 0.1), arm("c-d", [1, 0.5, 0.4], 0.1)]);
    expect(mixed).toContain("final loss (last step)");
  });
});
