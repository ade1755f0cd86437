import { existsSync, mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { compareExperiment, planArms } from "./compare.js";
import { parseConfig } from "./config.js";
import { readMetrics } from "./metrics-log.js";
import { tinyConfig } from "./testing/tiny-config.js";

describe("compareExperiment", () => {
  it("plans algorithm × weighting arms with the config's options and compare.algorithms overrides", () => {
    const config = parseConfig(tinyConfig({ compare: { algorithms: { reptile: { innerSteps: 3 } } } }));
    const arms = planArms(config, ["uniform", "agreement"], ["maml", "reptile"]);
    expect(arms.map((arm) => arm.name)).toEqual(["maml+uniform", "maml+agreement", "reptile+uniform", "reptile+agreement"]);
    expect(arms[0]!.algorithm).toEqual({ name: "maml", options: { order: 2, innerSteps: 1 } });
    expect(arms[2]!.algorithm).toEqual({ name: "reptile", options: { innerSteps: 3 } });
  });

  it("gives every arm the same seeds, initial parameters and task stream, and writes the report", async () => {
    const outDir = mkdtempSync(join(tmpdir(), "concord-compare-"));
    const lines: string[] = [];
    const result = await compareExperiment(parseConfig(tinyConfig({ iterations: 6 })), {
      weightings: ["uniform", "agreement"],
      algorithms: ["maml", "reptile"],
      seeds: 2,
      outDir,
      progress: "none",
      log: (line) => lines.push(line),
    });
    expect(result.arms.map((arm) => arm.name)).toEqual(["maml+uniform", "maml+agreement", "reptile+uniform", "reptile+agreement"]);
    expect(lines).toHaveLength(8);
    for (const seed of [3, 4]) {
      // Same θ₀ and the same first meta-batch: the loss before adaptation at iteration 1 is identical in every arm.
      const first = result.arms.map((arm) => readMetrics(join(outDir, arm.name, `seed-${seed}`, "metrics.jsonl"))[0]!);
      expect(new Set(first.map((record) => record.queryLossBefore)).size).toBe(1);
      expect(new Set(first.map((record) => record.supportLossBefore)).size).toBe(1);
    }
    for (const arm of result.arms) {
      expect(arm.seeds).toEqual([3, 4]);
      expect(arm.curves).toHaveLength(2);
      expect(arm.curves[0]).toHaveLength(6);
      expect(arm.evaluation.taskCount).toBe(16);
      expect(arm.fits?.length).toBeGreaterThan(0);
    }
    expect(result.table).toContain("maml+agreement");
    expect(existsSync(result.htmlPath)).toBe(true);
    const summary = JSON.parse(readFileSync(join(outDir, "results.json"), "utf8"));
    expect(summary.arms).toHaveLength(4);
  });
});
