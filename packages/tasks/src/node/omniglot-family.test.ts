import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as tf from "@tensorflow/tfjs-core";
import "@tensorflow/tfjs-backend-cpu";
import { ConcordError, createRng } from "@concord/core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { defaultOmniglotDir, OMNIGLOT_ANIL_PRESET, OMNIGLOT_PRESETS, omniglotFamily, omniglotTasks, resolveOmniglotDir } from "./omniglot-family.js";

beforeAll(async () => {
  await tf.setBackend("cpu");
});

describe("Omniglot data folder", () => {
  const empty = mkdtempSync(join(tmpdir(), "concord-omniglot-"));
  afterAll(() => rmSync(empty, { recursive: true, force: true }));

  it("defaults to ../shared/data/omniglot beside the repository", () => {
    const previous = process.env.CONCORD_OMNIGLOT_DIR;
    delete process.env.CONCORD_OMNIGLOT_DIR;
    try {
      expect(defaultOmniglotDir().endsWith(join("shared", "data", "omniglot"))).toBe(true);
    } finally {
      if (previous !== undefined) process.env.CONCORD_OMNIGLOT_DIR = previous;
    }
  });

  it("a folder without the data is a ConcordError naming it, where to put the data and where to get it", () => {
    for (const dir of [empty, join(empty, "missing")]) {
      let error: unknown;
      try {
        resolveOmniglotDir(dir);
      } catch (caught) {
        error = caught;
      }
      expect(error).toBeInstanceOf(ConcordError);
      const message = (error as ConcordError).message;
      expect((error as ConcordError).field).toBe("dataDir");
      expect(message).toContain(dir);
      expect(message).toContain("https://github.com/brendenlake/omniglot");
      expect(message).toContain("images_background.zip");
      expect(message).toContain("images_evaluation.zip");
    }
  });

  it("rejects bad sampler options by name", async () => {
    await expect(omniglotTasks({ ways: 1, shots: 1, dataDir: empty })).rejects.toThrow(/ways/);
    await expect(omniglotTasks({ ways: 5, shots: 10, queryShots: 11, dataDir: empty })).rejects.toThrow(/shots \+ queryShots/);
    await expect(omniglotTasks({ ways: 5, shots: 1, split: "val" as never, dataDir: empty })).rejects.toThrow(/split/);
  });
});

describe("Omniglot presets", () => {
  it("are the MAML paper settings, second and first order, and the family offers them", () => {
    expect(OMNIGLOT_PRESETS.map((preset) => preset.name)).toEqual([
      "omniglot-5w1s",
      "omniglot-5w1s-fo",
      "omniglot-5w5s",
      "omniglot-5w5s-fo",
      "omniglot-20w1s",
      "omniglot-20w1s-fo",
      "omniglot-20w5s",
      "omniglot-20w5s-fo",
    ]);
    // The family offers them first, then its other presets (label noise, ANIL).
    expect(omniglotFamily.presets?.slice(0, OMNIGLOT_PRESETS.length)).toEqual(OMNIGLOT_PRESETS);
    expect(omniglotFamily.presets).toContain(OMNIGLOT_ANIL_PRESET);
    // Exports of Omniglot-trained models carry the loader's pipeline (28×28, area resize, inverted, 8-bit).
    expect(omniglotFamily.preprocessing).toMatchObject({ kind: "omniglot-drawing", size: [28, 28], resize: "area", invert: true, quantization: "uint8" });
    expect(OMNIGLOT_ANIL_PRESET.config).toMatchObject({ algorithm: { name: "maml", order: 2, innerSteps: 1, adapt: "head" }, metaBatchSize: 32 });
    // Each config passes the runner's schema: see the runner's presets test.
    for (const preset of OMNIGLOT_PRESETS) {
      const config = preset.config as Record<string, Record<string, unknown> & { sampler?: Record<string, unknown> }>;
      const twenty = preset.name.startsWith("omniglot-20w");
      expect(config.metaBatchSize).toBe(twenty ? 16 : 32);
      expect(config.innerOptimizer).toEqual({ name: "sgd", lr: twenty ? 0.1 : 0.4 });
      expect(config.algorithm).toEqual({ name: "maml", order: preset.name.endsWith("-fo") ? 1 : 2, innerSteps: twenty ? 5 : 1 });
      expect(config.evaluation!.innerSteps).toBe(twenty ? 5 : 3);
      expect(config.evaluation!.tasks).toBe(600);
      expect(config.tasks!.split).toBe("train");
      expect(config.evaluation!.sampler!.split).toBe("test");
      expect(config.tasks!.queryShots).toBe(config.tasks!.shots);
    }
  });
});

const dataDir = defaultOmniglotDir();
const haveData = existsSync(join(dataDir, "images_background")) && existsSync(join(dataDir, "images_evaluation"));
if (!haveData) console.log(`Omniglot sampler tests skipped: no data at ${dataDir} (set CONCORD_OMNIGLOT_DIR)`);

describe.skipIf(!haveData)("Omniglot samplers on the real data", () => {
  it("draw 5-way 1-shot episodes of 28×28×1 images in [0, 1] from both splits", async () => {
    const train = await omniglotTasks({ ways: 5, shots: 1, split: "train" });
    const test = await omniglotTasks({ ways: 5, shots: 1, split: "test" });
    const [task] = train.sample(1, createRng(1));
    expect(task!.support.x.shape).toEqual([5, 28, 28, 1]);
    expect(task!.query.x.shape).toEqual([5, 28, 28, 1]);
    expect(Array.from(task!.support.y.dataSync())).toEqual([0, 1, 2, 3, 4]);
    const pixels = task!.support.x.dataSync();
    expect(Math.min(...pixels)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...pixels)).toBeLessThanOrEqual(1);
    expect(train.name).toBe("omniglot-train-5way-1shot");
    expect(test.name).toBe("omniglot-test-5way-1shot");
    tf.dispose([task!.support.x, task!.support.y, task!.query.x, task!.query.y]);
  }, 120_000);
});
