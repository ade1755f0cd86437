import * as tf from "@tensorflow/tfjs-core";
import { createRng, disposeParams, type Rng, type Task, type TaskSampler } from "@concord/core";
import { describeEachBackend } from "@concord/core/testing";
import { convNet, softmaxCrossEntropy } from "@concord/models";
import { sgd } from "@concord/optimizers";
import { evaluate } from "@concord/runner";
import { describe, expect, it } from "vitest";
import { evaluateFewShot, meanAndCi } from "./evaluate-few-shot.js";

/** 3-way tasks of random 8×8 images, one per class in support and query. */
const sampler: TaskSampler = {
  name: "random-images",
  sample(count: number, rng: Rng): Task[] {
    const batch = () => ({
      x: tf.tensor4d(Float32Array.from({ length: 3 * 64 }, () => rng.uniform(0, 1)), [3, 8, 8, 1]),
      y: tf.tensor1d([0, 1, 2], "int32"),
    });
    return Array.from({ length: count }, () => ({ support: batch(), query: batch() }));
  },
};

describe("meanAndCi", () => {
  it("is the mean and 1.96·s/√n with the n − 1 standard deviation", () => {
    const { mean, ci95 } = meanAndCi([1, 0, 1, 1]);
    expect(mean).toBe(0.75);
    expect(ci95).toBeCloseTo((1.96 * Math.sqrt(0.25)) / 2, 12);
  });
});

describeEachBackend("evaluateFewShot", () => {
  it("scores the same tasks as the runner's evaluate() with the same numbers, and frees its tensors", () => {
    const model = convNet({ ways: 3, inputShape: [8, 8, 1], filters: 4, blocks: 2 });
    const params = model.init(createRng(1));
    const options = { model, objective: softmaxCrossEntropy(), innerOptimizer: sgd({ lr: 0.4 }), sampler, steps: 2, seed: 5 };
    const before = tf.memory().numTensors;
    const ours = evaluateFewShot(params, { ...options, taskCount: 6 });
    expect(tf.memory().numTensors).toBe(before);
    const runner = evaluate(params, { ...options, taskCount: 6, maxInnerSteps: 2, execution: "per-task" });
    expect(ours.map((s) => s.step)).toEqual([0, 1, 2]);
    ours.forEach((statistic, step) => {
      expect(statistic.mean).toBeCloseTo(runner.accuracy![step]!.mean, 6);
      expect(statistic.ci95).toBeCloseTo(runner.accuracy![step]!.ci95, 6);
    });
    disposeParams(params);
  });
});
