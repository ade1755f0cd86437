import * as tf from "@tensorflow/tfjs-core";
import { createRng, disposeParams, type Params } from "@concord/core";
import { tensorGrowth } from "@concord/core/testing";
import { adapt } from "@concord/algorithms";
import { mlp } from "@concord/models";
import { sinusoid } from "@concord/tasks";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { plainSgd, squaredError } from "../testing/evaluation-fixtures.js";
import { sinusoidFits } from "./sinusoid-fits.js";

describe("sinusoidFits", () => {
  const model = mlp({ sizes: [1, 16, 16, 1] });
  const options = { model, objective: squaredError(), innerOptimizer: plainSgd(0.002), steps: 3, count: 3, seed: 9 };
  let params: Params;
  beforeAll(async () => {
    await tf.setBackend("cpu");
    params = model.init(createRng(4));
  });
  afterAll(() => disposeParams(params));

  it("returns the tasks of sampleWithInfo(count, createRng(seed)) with the true curve on a grid over [−5, 5]", () => {
    const fits = sinusoidFits(params, options);
    const { tasks, info } = sinusoid().sampleWithInfo(3, createRng(9));
    expect(fits).toHaveLength(3);
    fits.forEach((fit, index) => {
      expect(fit.amplitude).toBe(info[index]!.amplitude);
      expect(fit.phase).toBe(info[index]!.phase);
      expect(fit.supportX).toEqual(Array.from(tasks[index]!.support.x.dataSync()));
      expect(fit.supportY).toEqual(Array.from(tasks[index]!.support.y.dataSync()));
      expect(fit.xs).toHaveLength(101);
      expect(fit.xs[0]).toBe(-5);
      expect(fit.xs[100]).toBe(5);
      expect(fit.xs[50]).toBeCloseTo(0, 12);
      fit.xs.forEach((x, i) => expect(fit.truth[i]).toBeCloseTo(fit.amplitude * Math.sin(x - fit.phase), 12));
      expect(fit.steps).toBe(3);
    });
    tf.dispose(tasks.flatMap((task) => [task.support.x, task.support.y, task.query.x, task.query.y]));
  });

  it("before is the model at θ and after is the model at adapt(θ) on the support points", () => {
    const [fit] = sinusoidFits(params, { ...options, count: 1, gridSize: 11 });
    const { tasks } = sinusoid().sampleWithInfo(1, createRng(9));
    const [before, after] = tf.tidy(() => {
      const grid = tf.tensor2d(fit!.xs as number[], [11, 1]);
      const adapted = adapt(params, tasks[0]!.support, { model, objective: squaredError(), innerOptimizer: plainSgd(0.002), innerSteps: 3 }).params;
      return [Array.from(model.forward(params, grid).dataSync()), Array.from(model.forward(adapted, grid).dataSync())];
    });
    expect(fit!.before).toEqual(before);
    expect(fit!.after).toEqual(after);
    expect(fit!.after).not.toEqual(fit!.before);
    const [still] = sinusoidFits(params, { ...options, count: 1, gridSize: 11, steps: 0 });
    expect(still!.after).toEqual(still!.before);
    tf.dispose(tasks.flatMap((task) => [task.support.x, task.support.y, task.query.x, task.query.y]));
  });

  it("uses the given sampler's input range and leaks no tensors", () => {
    const [fit] = sinusoidFits(params, { ...options, count: 1, sampler: sinusoid({ inputRange: [-2, 3] }), gridSize: 6 });
    expect(fit!.xs).toEqual([-2, -1, 0, 1, 2, 3]);
    expect(tensorGrowth(() => sinusoidFits(params, options), 2)).toBe(0);
  });

  it("rejects bad counts and steps", () => {
    expect(() => sinusoidFits(params, { ...options, count: 0 })).toThrow(/^count: /);
    expect(() => sinusoidFits(params, { ...options, steps: -1 })).toThrow(/^steps: /);
    expect(() => sinusoidFits(params, { ...options, gridSize: 1 })).toThrow(/^gridSize: /);
  });
});
