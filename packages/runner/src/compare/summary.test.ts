import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { readMetrics } from "../metrics-log.js";
import { curveOf } from "./summary.js";

describe("curveOf (metrics.jsonl → the report's learning curve)", () => {
  const root = mkdtempSync(join(tmpdir(), "concord-summary-"));
  afterAll(() => rmSync(root, { recursive: true, force: true }));
  const base = { wallTimeSeconds: 1, iterationSeconds: 1, fallbacks: 0, weights: [0.5, 0.5] };

  it("passes effectiveTasks and weightedCosine from the records into the curve points", () => {
    const path = join(root, "new.jsonl");
    const records = [
      { ...base, iteration: 1, queryLossAfter: 0.5, queryLossBefore: 1, effectiveTasks: 2, weightedCosine: 1 },
      { ...base, iteration: 2, queryLossAfter: 0.4, queryLossBefore: 0.9, effectiveTasks: 1.6, weightedCosine: 0.83 },
    ];
    writeFileSync(path, records.map((record) => `${JSON.stringify(record)}\n`).join(""));
    expect(curveOf(readMetrics(path))).toEqual([
      { iteration: 1, queryLossAfter: 0.5, queryLossBefore: 1, effectiveTasks: 2, weightedCosine: 1 },
      { iteration: 2, queryLossAfter: 0.4, queryLossBefore: 0.9, effectiveTasks: 1.6, weightedCosine: 0.83 },
    ]);
  });

  it("leaves the fields out (not NaN) for records written before the diagnostics", () => {
    const path = join(root, "old.jsonl");
    writeFileSync(path, `${JSON.stringify({ ...base, iteration: 1, queryLossAfter: 0.5, queryLossBefore: 1 })}\n`);
    const [point] = curveOf(readMetrics(path));
    expect(point).toEqual({ iteration: 1, queryLossAfter: 0.5, queryLossBefore: 1 });
    expect(Object.keys(point!)).not.toContain("effectiveTasks");
  });
});
