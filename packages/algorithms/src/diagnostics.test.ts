import * as tf from "@tensorflow/tfjs-core";
import { disposeParams, type Params } from "@concord/core";
import { describeEachBackend } from "@concord/core/testing";
import { meanSquaredError, mlp } from "@concord/models";
import { sgd } from "@concord/optimizers";
import { gradientAgreement, uniform } from "@concord/weighting";
import { expect, it } from "vitest";
import { adapt, effectiveTaskCount, maml, reptile } from "./index.js";
import { disposeTasks, flatValues, randomTasks, randomTheta, toParams, toTasks } from "./testing/fixtures.js";
import type { ReferenceNet } from "./testing/reference-mlp.js";

// Issue 12's diagnostics: the effective number of tasks (Σ|w|)²/Σw² and the cosine between the
// weighted direction Σ w_i G_i and the uniform one, checked against values computed here in float64
// from each task's own adaptation.
const net: ReferenceNet = { sizes: [2, 5, 1], activation: "tanh", loss: "mse" };
const model = mlp({ sizes: [2, 5, 1], activation: "tanh" });
const context = (params: Params, tasks: ReturnType<typeof toTasks>, weighting = gradientAgreement()) => ({
  params,
  tasks,
  model,
  objective: meanSquaredError(),
  innerOptimizer: sgd({ lr: 0.3 }),
  weighting,
  iteration: 0,
});

function cosine(a: Float64Array, b: Float64Array): number {
  let dot = 0;
  let aa = 0;
  let bb = 0;
  a.forEach((value, i) => {
    dot += value * b[i]!;
    aa += value * value;
    bb += b[i]! * b[i]!;
  });
  return dot / Math.sqrt(aa * bb);
}

it("effectiveTaskCount: hand-worked values", () => {
  expect(effectiveTaskCount([0.25, 0.25, 0.25, 0.25])).toBeCloseTo(4, 12);
  expect(effectiveTaskCount([1, 0, 0])).toBeCloseTo(1, 12);
  // DESIGN.md's first reference row: (0.375 + 0.375 + 0.25)² / (2·0.140625 + 0.0625) = 1 / 0.34375.
  expect(effectiveTaskCount([0.375, 0.375, 0.25])).toBeCloseTo(1 / 0.34375, 12);
  // A negative weight counts by its size: (0.5 + 0.25 + 0.25)² / (0.25 + 0.0625 + 0.0625).
  expect(effectiveTaskCount([0.5, -0.25, 0.25])).toBeCloseTo(1 / 0.375, 12);
  expect(effectiveTaskCount([0, 0])).toBeNaN();
});

describeEachBackend("meta-step diagnostics", () => {
  it("Reptile + gradient agreement: weightedCosine = cos(Σ w_i g_i, Σ g_i) from per-task adaptation; effectiveTasks from the weights", () => {
    const theta = randomTheta(net, 3);
    const params = toParams(net, theta);
    const tasks = toTasks(net, randomTasks(net, 5, 6, 4));
    try {
      const { metaGradient, metrics } = reptile({ innerSteps: 2 }).step(context(params, tasks));
      // g_i = θ − θ'_i, each task adapted on its own.
      const updates = tasks.map((task) => {
        const adapted = adapt(params, task.support, { model, objective: meanSquaredError(), innerOptimizer: sgd({ lr: 0.3 }), innerSteps: 2 }).params;
        const values = flatValues(adapted);
        disposeParams(adapted);
        return theta.map((value, p) => value - values[p]!);
      });
      const weighted = theta.map((_, p) => updates.reduce((sum, g, i) => sum + metrics.weights[i]! * g[p]!, 0));
      const total = theta.map((_, p) => updates.reduce((sum, g) => sum + g[p]!, 0));
      expect(Math.abs(metrics.weightedCosine - cosine(weighted, total))).toBeLessThan(1e-4);
      expect(metrics.weightedCosine).toBeLessThan(0.9999); // non-uniform weights: the directions differ
      expect(metrics.effectiveTasks).toBeCloseTo(effectiveTaskCount(metrics.weights), 10);
      expect(metrics.effectiveTasks).toBeLessThan(5);
      disposeParams(metaGradient);
    } finally {
      disposeParams(params);
      disposeTasks(tasks);
    }
  });

  it("MAML (second order) + gradient agreement: weightedCosine = cos(d, Σ_i G_i) with G_i each task's own meta-gradient", () => {
    const theta = randomTheta(net, 5);
    const params = toParams(net, theta);
    const tasks = toTasks(net, randomTasks(net, 4, 6, 6));
    try {
      const algorithm = maml({ order: 2, innerSteps: 1, execution: "per-task" });
      const { metaGradient, metrics } = algorithm.step(context(params, tasks));
      // Σ_i G_i: the uniform meta-gradient is (1/N) Σ_i G_i, so N times it is the sum.
      const uniformStep = algorithm.step(context(params, tasks, uniform()));
      const sum = flatValues(uniformStep.metaGradient).map((value) => value * tasks.length);
      expect(Math.abs(metrics.weightedCosine - cosine(flatValues(metaGradient), sum))).toBeLessThan(1e-4);
      expect(uniformStep.metrics.weightedCosine).toBe(1);
      expect(uniformStep.metrics.effectiveTasks).toBeCloseTo(tasks.length, 10);
      disposeParams(metaGradient);
      disposeParams(uniformStep.metaGradient);
    } finally {
      disposeParams(params);
      disposeTasks(tasks);
    }
  });

  it("the diagnostics leak no tensors", () => {
    const params = toParams(net, randomTheta(net, 8));
    const tasks = toTasks(net, randomTasks(net, 4, 6, 9));
    try {
      const before = tf.memory().numTensors;
      for (let i = 0; i < 3; i++) disposeParams(reptile({ innerSteps: 1 }).step(context(params, tasks)).metaGradient);
      expect(tf.memory().numTensors).toBe(before);
    } finally {
      disposeParams(params);
      disposeTasks(tasks);
    }
  });
});
