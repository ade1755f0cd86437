import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { beforeAll, describe, expect, it } from "vitest";
import { parseConfig } from "../config.js";
import { readMetrics } from "../metrics-log.js";
import { tinyConfig } from "../testing/tiny-config.js";
import { compareExperiment, planArms } from "./index.js";

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
    }
    // The sinusoid family's panel, drawn from each arm's final parameters.
    expect(result.images.map((path) => path.slice(outDir.length + 1))).toContain("sinusoid-fits.svg");
    // The meta-step's diagnostics reach the report's curves: uniform weights give exactly N tasks and cosine 1.
    const uniform = result.arms.find((arm) => arm.name === "maml+uniform")!;
    for (const point of uniform.curves.flat()) {
      expect(point.effectiveTasks).toBeCloseTo(parseConfig(tinyConfig({ iterations: 6 })).metaBatchSize, 9);
      expect(point.weightedCosine).toBeCloseTo(1, 6);
    }
    expect(
      result.arms
        .find((arm) => arm.name === "maml+agreement")!
        .curves.flat()
        .every((point) => Number.isFinite(point.weightedCosine)),
    ).toBe(true);
    expect(result.images.map((path) => path.slice(outDir.length + 1))).toContain("diagnostics.svg");
    expect(readFileSync(result.htmlPath, "utf8")).toContain('<th class="num">effective tasks</th><th class="num">cosine to uniform</th>');
    expect(result.table).toContain("maml+agreement");
    expect(existsSync(result.htmlPath)).toBe(true);
    const summary = JSON.parse(readFileSync(join(outDir, "results.json"), "utf8"));
    expect(summary.arms).toHaveLength(4);
  });
});

describe("compareExperiment --resume", () => {
  it("reports finished runs from their evaluation instead of running them again, and continues runs given more iterations", async () => {
    const outDir = mkdtempSync(join(tmpdir(), "concord-compare-resume-"));
    const options = { weightings: ["uniform", "agreement"], algorithms: ["maml"], seeds: 1, outDir, progress: "none" as const, log: () => {} };
    const first = await compareExperiment(parseConfig(tinyConfig({ iterations: 4 })), options);
    const evaluationFile = join(outDir, "maml+uniform", "seed-3", "evaluation.json");
    const written = statSync(evaluationFile).mtimeMs;
    const lines: string[] = [];
    const again = await compareExperiment(parseConfig(tinyConfig({ iterations: 4 })), { ...options, resume: true, log: (line) => lines.push(line) });
    // Not rewritten: nothing was evaluated again, and the same evaluations come back.
    expect(statSync(evaluationFile).mtimeMs).toBe(written);
    expect(again.arms.map((arm) => arm.evaluation)).toEqual(first.arms.map((arm) => arm.evaluation));
    expect(lines).toHaveLength(2);
    // More iterations: another config, so each run continues from its checkpoint to 6.
    const longer = await compareExperiment(parseConfig(tinyConfig({ iterations: 6 })), { ...options, resume: true });
    expect(JSON.parse(readFileSync(evaluationFile, "utf8")).iteration).toBe(6);
    expect(readMetrics(join(outDir, "maml+uniform", "seed-3", "metrics.jsonl"))).toHaveLength(6);
    expect(longer.arms[0]!.evaluation).not.toEqual(first.arms[0]!.evaluation);
  });
});

describe("compareExperiment --resume with another checkpoint cadence", () => {
  it("still reports finished runs from their evaluation, and runs them again when the evaluation changes", async () => {
    const outDir = mkdtempSync(join(tmpdir(), "concord-compare-cadence-"));
    const options = { weightings: ["uniform"], algorithms: ["maml"], seeds: 1, outDir, progress: "none" as const, log: () => {} };
    await compareExperiment(parseConfig(tinyConfig({ iterations: 4, checkpointEvery: 4 })), options);
    const evaluationFile = join(outDir, "maml+uniform", "seed-3", "evaluation.json");
    const written = statSync(evaluationFile).mtimeMs;
    await compareExperiment(parseConfig(tinyConfig({ iterations: 4, checkpointEvery: 2, logEvery: 1 })), { ...options, resume: true });
    expect(statSync(evaluationFile).mtimeMs).toBe(written);
    await compareExperiment(parseConfig(tinyConfig({ iterations: 4, evaluation: { tasks: 3 } })), { ...options, resume: true });
    expect(JSON.parse(readFileSync(evaluationFile, "utf8")).taskCount).toBe(3);
  });
});

describe("compareExperiment --resume after a run stopped before its first checkpoint", () => {
  it("starts that run again, keeps its partial metrics as metrics.jsonl.interrupted, and gives the uninterrupted result", async () => {
    const config = parseConfig(tinyConfig({ iterations: 4 }));
    const options = { weightings: ["uniform"], algorithms: ["maml"], seeds: 1, progress: "none" as const, log: () => {} };
    const reference = await compareExperiment(config, { ...options, outDir: mkdtempSync(join(tmpdir(), "concord-uninterrupted-")) });
    // What a run killed at iteration 2 of 4 leaves when it checkpoints every 500: metrics, no checkpoint.
    const outDir = mkdtempSync(join(tmpdir(), "concord-interrupted-"));
    const runDir = join(outDir, "maml+uniform", "seed-3");
    await compareExperiment(config, { ...options, outDir });
    const partial = readFileSync(join(runDir, "metrics.jsonl"), "utf8").split("\n").slice(0, 2).join("\n").concat("\n");
    for (const file of ["checkpoint.ckpt", "evaluation.json"]) rmSync(join(runDir, file));
    writeFileSync(join(runDir, "metrics.jsonl"), partial);

    const resumed = await compareExperiment(config, { ...options, outDir, resume: true });
    expect(resumed.arms[0]!.evaluation).toEqual(reference.arms[0]!.evaluation);
    expect(readMetrics(join(runDir, "metrics.jsonl"))).toHaveLength(4);
    expect(readFileSync(join(runDir, "metrics.jsonl.interrupted"), "utf8")).toBe(partial);
  });
});

describe("compareExperiment with jobs > 1: each run a child process of the built run-process.js", () => {
  const packageDir = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
  const runProcess = join(packageDir, "dist", "run-process.js");

  beforeAll(() => {
    const build = spawnSync("pnpm", ["exec", "tsc", "-b"], { cwd: packageDir, encoding: "utf8" });
    expect(build.stdout + build.stderr).toBe("");
    expect(existsSync(runProcess)).toBe(true);
  }, 180_000);

  it("writes the same evaluations, table and results.json as jobs 1 (in this process)", async () => {
    const config = parseConfig(tinyConfig({ iterations: 4 }));
    const options = { weightings: ["uniform", "agreement"], algorithms: ["maml"], seeds: 2, progress: "none" as const, log: () => {} };
    const inProcess = await compareExperiment(config, { ...options, outDir: mkdtempSync(join(tmpdir(), "concord-jobs1-")), jobs: 1 });
    const childLines: string[] = [];
    const children = await compareExperiment(config, {
      ...options,
      outDir: mkdtempSync(join(tmpdir(), "concord-jobs2-")),
      jobs: 2,
      runProcess,
      log: (line) => childLines.push(line),
    });
    expect(childLines).toHaveLength(4);
    // Child runs leave their config beside their folder: proof they ran as `run-process.js <config>`.
    for (const arm of children.arms) for (const seed of arm.seeds) expect(existsSync(join(children.outDir, arm.name, `seed-${seed}.config.json`))).toBe(true);
    expect(existsSync(join(inProcess.outDir, "maml+uniform", "seed-3.config.json"))).toBe(false);
    expect(children.arms.map((arm) => arm.evaluation)).toEqual(inProcess.arms.map((arm) => arm.evaluation));
    expect(children.arms.map((arm) => arm.curves)).toEqual(inProcess.arms.map((arm) => arm.curves));
    // Wall times differ (and with them the column's width); everything else is the same text.
    const withoutTimes = (table: string) =>
      table
        .replace(/\d+(\.\d+)? (s|min|h)\b/g, "T")
        .replace(/ +/g, " ")
        .replace(/-+/g, "-");
    expect(withoutTimes(children.table)).toBe(withoutTimes(inProcess.table));
    const results = (outDir: string) => {
      const { createdAt: _created, arms, ...rest } = JSON.parse(readFileSync(join(outDir, "results.json"), "utf8"));
      return { ...rest, arms: arms.map(({ wallTimeSeconds: _time, ...arm }: { wallTimeSeconds: number }) => arm) };
    };
    expect(results(children.outDir)).toEqual(results(inProcess.outDir));
  }, 300_000);
});
