import { createHash } from "node:crypto";
import { mkdtempSync, readdirSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as tf from "@tensorflow/tfjs-core";
import { ConcordError, disposeParams, type OuterOptimizer, type Params } from "@concord/core";
import { useBackend } from "@concord/backend";
import { sgd } from "@concord/optimizers";
import { describe, expect, it } from "vitest";
import { createRegistry } from "./builtins.js";
import { CHECKPOINT_FILE, loadCheckpoint, disposeCheckpoint } from "./checkpoint.js";
import { parseConfig } from "./config.js";
import { METRICS_FILE, readMetrics } from "./metrics-log.js";
import { createParts } from "./experiment-parts.js";
import { runExperiment } from "./run-experiment.js";
import { TrainingDiverged } from "./training-loop.js";
import type { SinusoidSampler } from "@concord/tasks";
import { tinyConfig } from "./testing/tiny-config.js";
import { train } from "./train.js";

const folder = () => mkdtempSync(join(tmpdir(), "concord-run-"));
const quiet = { progress: "none" as const };

function paramBytes(params: Params): string {
  return Object.entries(params)
    .map(([name, tensor]) => `${name}:${Buffer.from((tensor.dataSync() as Float32Array).buffer).toString("hex")}`)
    .join("|");
}

function digest(path: string): string {
  return createHash("sha256").update(readFileSync(path)).digest("hex");
}

describe("runExperiment", () => {
  it("same seed gives identical parameters after 50 iterations; another seed differs", async () => {
    const run = async (seed: number) => {
      const result = await runExperiment(parseConfig(tinyConfig({ seed, iterations: 50, checkpointEvery: 50 })), {
        outDir: folder(),
        evaluate: false,
        ...quiet,
      });
      const bytes = paramBytes(result.params);
      disposeParams(result.params);
      return bytes;
    };
    const first = await run(11);
    expect(await run(11)).toBe(first);
    expect(await run(12)).not.toBe(first);
  });

  it("writes one metrics line per iteration, a checkpoint, config.json and evaluation.json, and no temp files", async () => {
    const outDir = folder();
    const result = await runExperiment(parseConfig(tinyConfig()), { outDir, ...quiet });
    disposeParams(result.params);
    expect(readdirSync(outDir).sort()).toEqual(["checkpoint.ckpt", "config.json", "evaluation.json", "metrics.jsonl"]);
    const records = readMetrics(join(outDir, METRICS_FILE));
    expect(records.map((r) => r.iteration)).toEqual(Array.from({ length: 12 }, (_, i) => i + 1));
    const last = records.at(-1)!;
    expect(last.weights).toHaveLength(4);
    expect(last.weightMin).toBeLessThanOrEqual(last.weightMean);
    expect(last.weightMax).toBeGreaterThanOrEqual(last.weightMean);
    expect(last.negativeWeights).toBe(last.weights.filter((w) => w < 0).length);
    expect(Object.keys(last).sort()).toEqual(
      [
        "effectiveTasks",
        "fallbacks",
        "iteration",
        "iterationSeconds",
        "meanPairwiseCosine",
        "negativeWeights",
        "queryLossAfter",
        "queryLossBefore",
        "supportLossAfter",
        "supportLossBefore",
        "wallTimeSeconds",
        "weightMax",
        "weightMean",
        "weightMin",
        "weightedCosine",
        "weights",
      ].sort(),
    );
    expect(result.evaluation?.loss).toHaveLength(3);
    const checkpoint = loadCheckpoint(join(outDir, CHECKPOINT_FILE));
    expect(checkpoint.iteration).toBe(12);
    disposeCheckpoint(checkpoint);
  });

  it("keepCheckpoints keeps those iterations' checkpoints, equal to runs stopped there, off the checkpointEvery grid", async () => {
    const outDir = folder();
    const whole = await runExperiment(parseConfig(tinyConfig({ keepCheckpoints: [5, 9], checkpointEvery: 4 })), { outDir, evaluate: false, ...quiet });
    disposeParams(whole.params);
    expect(
      readdirSync(outDir)
        .filter((name) => name.endsWith(".ckpt"))
        .sort(),
    ).toEqual(["checkpoint-5.ckpt", "checkpoint-9.ckpt", "checkpoint.ckpt"]);
    for (const iteration of [5, 9]) {
      const stopped = await runExperiment(parseConfig(tinyConfig({ iterations: iteration })), { outDir: folder(), evaluate: false, ...quiet });
      const kept = loadCheckpoint(join(outDir, `checkpoint-${iteration}.ckpt`));
      expect(kept.iteration).toBe(iteration);
      expect(paramBytes(kept.params)).toBe(paramBytes(stopped.params));
      disposeCheckpoint(kept);
      disposeParams(stopped.params);
    }
  });

  it("algorithm diagnostics: false leaves the loss diagnostics out of metrics.jsonl and keeps the weighting ones and the parameters", async () => {
    const lean = folder();
    const off = await runExperiment(parseConfig(tinyConfig({ algorithm: { name: "maml", order: 2, innerSteps: 1, diagnostics: false } })), {
      outDir: lean,
      evaluate: false,
      ...quiet,
    });
    const on = await runExperiment(parseConfig(tinyConfig()), { outDir: folder(), evaluate: false, ...quiet });
    expect(paramBytes(off.params)).toBe(paramBytes(on.params));
    const last = readMetrics(join(lean, METRICS_FILE)).at(-1)!;
    expect([last.supportLossBefore, last.supportLossAfter, last.queryLossBefore, last.meanPairwiseCosine]).toEqual([null, null, null, null]);
    expect(last.queryLossAfter).toBeGreaterThan(0);
    expect(last.effectiveTasks).toBeGreaterThan(0);
    expect(Number.isFinite(last.weightedCosine)).toBe(true);
    disposeParams(off.params);
    disposeParams(on.params);
  });

  it("records the engine it ran on: auto picks native where the addon loads, and result, checkpoint and evaluation say so", async () => {
    const nativeLoads = await useBackend("native").then(
      () => true,
      () => false,
    );
    const engine = nativeLoads ? "native" : "wasm";
    const outDir = folder();
    const config = (iterations: number) => parseConfig(tinyConfig({ backend: "auto", iterations, evaluation: { tasks: 2, innerSteps: 1 } }));
    const result = await runExperiment(config(3), { outDir, ...quiet });
    disposeParams(result.params);
    expect(result.backend).toBe(engine);
    expect(result.evaluation?.backend).toBe(engine);
    expect(JSON.parse(readFileSync(join(outDir, "evaluation.json"), "utf8")).backend).toBe(engine);
    const checkpoint = loadCheckpoint(join(outDir, CHECKPOINT_FILE));
    expect(checkpoint.backend).toBe(engine);
    disposeCheckpoint(checkpoint);
    // Resuming on the same engine is allowed (the recorded name matches what auto picks again).
    const resumed = await runExperiment(config(4), { outDir, resume: true, evaluate: false, ...quiet });
    expect([resumed.iteration, resumed.backend]).toEqual([4, engine]);
    disposeParams(resumed.params);
  });

  it("a run stopped at a checkpoint and resumed ends bit-identical to an uninterrupted one", async () => {
    const whole = await runExperiment(parseConfig(tinyConfig()), { outDir: folder(), evaluate: false, ...quiet });
    const outDir = folder();
    const part = await runExperiment(parseConfig(tinyConfig({ iterations: 7 })), { outDir, evaluate: false, ...quiet });
    disposeParams(part.params);
    const resumed = await runExperiment(parseConfig(tinyConfig()), { outDir, resume: true, evaluate: false, ...quiet });
    expect(paramBytes(resumed.params)).toBe(paramBytes(whole.params));
    expect(readMetrics(join(outDir, METRICS_FILE)).map((r) => r.iteration)).toEqual(Array.from({ length: 12 }, (_, i) => i + 1));
    disposeParams(whole.params);
    disposeParams(resumed.params);
  });

  it("refuses --resume with a mismatching config, naming the field, and changes nothing", async () => {
    const outDir = folder();
    const result = await runExperiment(parseConfig(tinyConfig({ iterations: 5 })), { outDir, evaluate: false, ...quiet });
    disposeParams(result.params);
    const before = readdirSync(outDir).map((name) => digest(join(outDir, name)));
    const attempt = runExperiment(parseConfig(tinyConfig({ innerOptimizer: { name: "sgd", lr: 0.5 } })), { outDir, resume: true, ...quiet });
    await expect(attempt).rejects.toThrow(
      'innerOptimizer.lr: --resume refused: config field "innerOptimizer.lr" is 0.5 but the checkpoint was trained with 0.01',
    );
    expect(readdirSync(outDir).map((name) => digest(join(outDir, name)))).toEqual(before);
  });

  it("refuses to overwrite an existing run without --resume", async () => {
    const outDir = folder();
    const result = await runExperiment(parseConfig(tinyConfig({ iterations: 2 })), { outDir, evaluate: false, ...quiet });
    disposeParams(result.params);
    await expect(runExperiment(parseConfig(tinyConfig()), { outDir, ...quiet })).rejects.toThrow(/already holds a run/);
  });

  it("stops a diverging run naming the iteration and keeps the last good checkpoint", async () => {
    const registry = createRegistry();
    registry.register("outerOptimizer", "poisoned-at-8", () => {
      const inner = sgd({ lr: 0.01 });
      let applied = 0;
      const poisoned: OuterOptimizer = {
        ...inner,
        name: "poisoned-at-8",
        apply(params, metaGradient) {
          applied += 1;
          const next = inner.apply(params, metaGradient);
          if (applied < 8) return next;
          const nan = Object.fromEntries(Object.entries(next).map(([k, v]) => [k, tf.mul(v, Number.NaN)]));
          disposeParams(next);
          return nan;
        },
        getState: () => ({ ...inner.getState(), name: "poisoned-at-8" }),
        setState: (state) => inner.setState({ ...state, name: "sgd" }),
      };
      return poisoned;
    });
    const outDir = folder();
    const attempt = runExperiment(parseConfig(tinyConfig({ outerOptimizer: "poisoned-at-8" })), { outDir, registry, ...quiet });
    await expect(attempt).rejects.toBeInstanceOf(TrainingDiverged);
    await expect(runExperiment(parseConfig(tinyConfig({ outerOptimizer: "poisoned-at-8" })), { outDir: folder(), registry, ...quiet })).rejects.toThrow(
      /training diverged at iteration 8: non-finite parameters; the last good checkpoint \(iteration 5\) is kept at /,
    );
    const checkpoint = loadCheckpoint(join(outDir, CHECKPOINT_FILE));
    expect(checkpoint.iteration).toBe(5);
    disposeCheckpoint(checkpoint);
    expect(readMetrics(join(outDir, METRICS_FILE))).toHaveLength(7);
  });

  it("refuses a config naming an unknown plug-in before writing anything", async () => {
    const outDir = join(folder(), "never");
    await expect(runExperiment(parseConfig(tinyConfig({ weighting: "cosine" })), { outDir, ...quiet })).rejects.toBeInstanceOf(ConcordError);
    expect(() => readdirSync(outDir)).toThrow();
  });

  it("refuses TR-MAML whose groups differ from the task sampler's before writing anything, and runs it when they match", async () => {
    // The sinusoid family declares 5 amplitude bands as its task groups.
    const outDir = join(folder(), "never");
    const mismatched = runExperiment(parseConfig(tinyConfig({ weighting: { name: "tr-maml", groups: 3, lr: 0.1 } })), { outDir, ...quiet });
    await expect(mismatched).rejects.toMatchObject({ field: "weighting.groups" });
    await expect(mismatched).rejects.toThrow("weighting 'tr-maml' weighs 3 task groups; got a task sampler with 5 groups");
    expect(() => readdirSync(outDir)).toThrow();
    const matched = await runExperiment(parseConfig(tinyConfig({ iterations: 2, weighting: { name: "tr-maml", groups: 5, lr: 0.1 } })), {
      outDir: join(folder(), "tr-maml"),
      ...quiet,
    });
    expect(matched.iteration).toBe(2);
    disposeParams(matched.params);
  });
});

describe("the evaluation sampler", () => {
  it("evaluates on clean tasks: the family's evaluation variant of the training tasks, unless evaluation.sampler says otherwise", async () => {
    const registry = createRegistry();
    const corrupted = parseConfig(tinyConfig({ tasks: { name: "sinusoid", supportSize: 5, corruption: { fraction: 0.2 } } }));
    const parts = await createParts(corrupted, registry);
    expect((parts.sampler as SinusoidSampler).options.corruption).toEqual({ fraction: 0.2, noiseStd: 3 });
    expect((parts.evaluationSampler as SinusoidSampler).options.corruption).toBeUndefined();
    expect((parts.evaluationSampler as SinusoidSampler).options.supportSize).toBe(5);
    const explicit = parseConfig(tinyConfig({ evaluation: { sampler: { name: "sinusoid", querySize: 50 } } }));
    const explicitParts = await createParts(explicit, registry);
    expect((explicitParts.evaluationSampler as SinusoidSampler).options.querySize).toBe(50);
    expect((explicitParts.evaluationSampler as SinusoidSampler).options.supportSize).toBe(10);
  });

  it("applies a third-party family's evaluationOptions to its validated options", async () => {
    const registry = createRegistry();
    const seen: unknown[] = [];
    registry.define({
      kind: "tasks",
      name: "sine-copy",
      create: (options: { size: number }) => {
        seen.push(options);
        return { name: `sine-copy-${options.size}`, sample: () => [] };
      },
      evaluationOptions: (options: { size: number }) => ({ size: options.size * 10 }),
    });
    const parts = await createParts(parseConfig(tinyConfig({ tasks: { name: "sine-copy", size: 2 } })), registry);
    expect(parts.sampler.name).toBe("sine-copy-2");
    expect(parts.evaluationSampler.name).toBe("sine-copy-20");
    expect(seen).toEqual([{ size: 2 }, { size: 20 }]);
  });
});

describe("train() through the registry's plug-ins", () => {
  it("keeps tf.memory().numTensors flat over 200 iterations", async () => {
    await tf.setBackend("cpu");
    const config = parseConfig(tinyConfig());
    const registry = createRegistry();
    const parts = await createParts(config, registry);
    const outerOptimizer = registry.create("outerOptimizer", config.outerOptimizer);
    const counts: number[] = [];
    const result = train({
      ...parts,
      outerOptimizer,
      metaBatchSize: 4,
      iterations: 200,
      seed: 1,
      onIteration: ({ iteration }) => {
        if (iteration === 10 || iteration === 200) counts.push(tf.memory().numTensors);
      },
    });
    expect(counts[1]).toBe(counts[0]);
    disposeParams(result.params);
    outerOptimizer.dispose();
  });
});
