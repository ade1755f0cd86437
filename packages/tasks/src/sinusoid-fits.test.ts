import * as tf from "@tensorflow/tfjs-core";
import "@tensorflow/tfjs-backend-cpu";
import { type Batch, createRng, disposeParams, type Model, type Params, type ReportPanelContext } from "@concord/core";
import { tensorGrowth } from "@concord/core/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type SinusoidOptions, sinusoid } from "./sinusoid.js";
import { sinusoidFamily } from "./sinusoid-family.js";
import { sinusoidFits } from "./sinusoid-fits.js";

// A one-hidden-layer tanh network and plain SGD on its MSE: enough to see "before" and "after" differ
// (the algorithms' adapt() cannot be imported here; the runner passes it in).
const model: Model = {
  name: "tiny-tanh",
  init: (rng) => ({
    w1: tf.tensor2d(
      Array.from({ length: 16 }, () => rng.normal()),
      [1, 16],
    ),
    b1: tf.tensor1d(Array.from({ length: 16 }, () => rng.normal())),
    w2: tf.tensor2d(
      Array.from({ length: 16 }, () => 0.5 * rng.normal()),
      [16, 1],
    ),
  }),
  forward: (params, x) => tf.matMul(tf.tanh(tf.add(tf.matMul(x, params.w1!), params.b1!)), params.w2!),
};
function sgdAdapt(lr: number) {
  return (params: Params, support: Batch, steps: number): Params => {
    let current = params;
    for (let step = 0; step < steps; step++) {
      const names = Object.keys(current);
      const grads = tf.grads((...values: tf.Tensor[]) =>
        tf.mean(tf.square(tf.sub(model.forward(Object.fromEntries(names.map((n, i) => [n, values[i]!])), support.x), support.y))),
      )(names.map((n) => current[n]!));
      current = Object.fromEntries(names.map((n, i) => [n, tf.sub(current[n]!, tf.mul(grads[i]!, lr))]));
    }
    return current;
  };
}

describe("sinusoidFits", () => {
  const options = { model, adapt: sgdAdapt(0.05), steps: 3, count: 3, seed: 9, sampler: sinusoid() };
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
      const adapted = sgdAdapt(0.05)(params, tasks[0]!.support, 3);
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

  it("rejects bad counts and steps, and a missing sampler", () => {
    expect(() => sinusoidFits(params, { ...options, count: 0 })).toThrow(/^count: /);
    expect(() => sinusoidFits(params, { ...options, steps: -1 })).toThrow(/^steps: /);
    expect(() => sinusoidFits(params, { ...options, gridSize: 1 })).toThrow(/^gridSize: /);
    expect(() => sinusoidFits(params, { ...options, sampler: undefined as never })).toThrow(/^sampler: /);
  });
});

describe("sinusoidFamily", () => {
  let params: Params;
  beforeAll(async () => {
    await tf.setBackend("cpu");
    params = model.init(createRng(4));
  });
  afterAll(() => disposeParams(params));
  const context = (taskOptions: SinusoidOptions): ReportPanelContext<SinusoidOptions> => ({
    arms: [{ name: "maml+uniform", params }],
    model,
    objective: { name: "unused", loss: () => tf.scalar(0) },
    innerOptimizer: { name: "unused", init: () => undefined, step: (p) => ({ params: p, state: undefined }) },
    taskOptions,
    steps: 2,
    seed: 3,
    adapt: sgdAdapt(0.05),
  });
  const rowsOf = async (taskOptions: SinusoidOptions) => {
    const panels = await sinusoidFamily.reportPanels!(context(taskOptions));
    expect(panels.map((panel) => panel.id)).toEqual(["sinusoid-fits"]);
    return (panels[0]!.spec.data as { values: { task: string; series: string; x: number; y: number; order: number }[] }).values;
  };

  it("draws the fit panel's tasks from the RUN's task options (sinusoid-ga-paper: φ ∈ [0, 2π]), not the defaults", async () => {
    const gaPaper = sinusoidFamily.presets!.find((preset) => preset.name === "sinusoid-ga-paper")!.config.tasks as Record<string, unknown>;
    const { name: _name, ...taskOptions } = gaPaper;
    const rows = await rowsOf(taskOptions as SinusoidOptions);
    const expected = sinusoid(taskOptions as SinusoidOptions).sampleWithInfo(4, createRng(3));
    const phases = [...new Set(rows.map((row) => row.task))];
    expect(phases).toEqual(expected.info.map((task, i) => `task ${i + 1}: A = ${task.amplitude.toFixed(2)}, φ = ${task.phase.toFixed(2)}`));
    // The bug this catches: drawn with the default φ ∈ [0, π], these tasks had other phases.
    expect(expected.info.some((task) => task.phase > Math.PI)).toBe(true);
    const defaults = sinusoid().sampleWithInfo(4, createRng(3));
    expect(expected.info.map((task) => task.phase)).not.toEqual(defaults.info.map((task) => task.phase));
    tf.dispose([...expected.tasks, ...defaults.tasks].flatMap((task) => [task.support.x, task.support.y, task.query.x, task.query.y]));
  });

  it("shows clean tasks when training is corrupted (sinusoid-outliers): the support points lie on the true curve", async () => {
    const rows = await rowsOf({ corruption: { fraction: 1, noiseStd: 3 } });
    const support = rows.filter((row) => row.series === "support points");
    expect(support.length).toBe(4 * 10);
    for (const point of support) {
      const [, amplitude, phase] = /A = (-?[\d.]+), φ = (-?[\d.]+)/.exec(point.task)!.map(Number);
      expect(Math.abs(point.y - amplitude! * Math.sin(point.x - phase!))).toBeLessThan(0.02);
    }
  });

  it("evaluates on the options without corruption, and validates options with its schema", () => {
    expect(sinusoidFamily.evaluationOptions!({ phase: [0, 1], corruption: { fraction: 0.2 } })).toEqual({ phase: [0, 1] });
    const schema = sinusoidFamily.options!["~standard"];
    expect(schema.validate({ supportSize: 5 })).toEqual({ value: { supportSize: 5 } });
    const bad = schema.validate({ supportSize: 0 }) as unknown as { issues: { path: (string | { key: string })[] }[] };
    expect(bad.issues[0]!.path).toEqual(["supportSize"]);
  });
});
