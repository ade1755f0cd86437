import * as tf from "@tensorflow/tfjs-core";
import { ConcordError, createRng, disposeParams, type Params, type Rng, type Task, type TaskSampler, tileParams } from "@concord/core";
import { describeEachBackend, tensorGrowth } from "@concord/core/testing";
import { convNet, mlp, softmaxCrossEntropy } from "@concord/models";
import { sgd } from "@concord/optimizers";
import { sinusoid } from "@concord/tasks";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { adapt, adaptStep } from "./adapt.js";
import { combineEvaluations, type EvaluationOptions, type EvaluationResult, evaluateAdaptation as evaluate, meanWithCi95 } from "./evaluate-adaptation.js";
import { linearModel, linearTasks, plainSgd, referenceLinearLosses, squaredError } from "./testing/evaluation-fixtures.js";

const W0 = Math.fround(0.7);
const B0 = Math.fround(-0.3);
const LR = 0.1;

function linearParams(): Params {
  return { w: tf.tensor2d([W0], [1, 1]), b: tf.tensor1d([B0]) };
}

describeEachBackend("evaluateAdaptation() on a linear model against float64 closed-form SGD", (backend) => {
  for (const execution of ["batched", "per-task"] as const) {
    it(`${execution}: per-task and mean query losses at steps 0..3 match the reference`, () => {
      const params = linearParams();
      const result = evaluate(params, {
        model: linearModel(),
        objective: squaredError(),
        innerOptimizer: plainSgd(LR),
        sampler: linearTasks(),
        taskCount: 50,
        maxInnerSteps: 3,
        seed: 7,
        chunkSize: 20,
        execution,
      });
      disposeParams(params);
      const { tasks, info } = linearTasks().sampleWithInfo(50, createRng(7));
      tf.dispose(tasks.flatMap((task) => [task.support.x, task.support.y, task.query.x, task.query.y]));
      const reference = info.map((task) => referenceLinearLosses(W0, B0, task, LR, 3)); // [task][step]
      expect(result.taskCount).toBe(50);
      expect(result.backend).toBe(backend);
      expect(result.loss.map((s) => s.step)).toEqual([0, 1, 2, 3]);
      for (let step = 0; step <= 3; step++) {
        const expectedPerTask = reference.map((losses) => losses[step]!);
        result.perTaskLoss[step]!.forEach((value, task) => expect(value).toBeCloseTo(expectedPerTask[task]!, 4));
        const expectedMean = expectedPerTask.reduce((a, b) => a + b, 0) / expectedPerTask.length;
        expect(Math.abs(result.loss[step]!.mean - expectedMean) / expectedMean).toBeLessThan(1e-5);
      }
      // Sanity of the reference itself: SGD on a convex quadratic with a small step keeps improving.
      expect(result.loss[3]!.mean).toBeLessThan(result.loss[0]!.mean);
    });
  }
});

describe("meanWithCi95", () => {
  it("uses the sample standard deviation: [1, 2, 3, 4] gives 2.5 ± 1.96·√(5/3)/2", () => {
    const { mean, ci95 } = meanWithCi95([1, 2, 3, 4]);
    expect(mean).toBe(2.5);
    // s² = ((1.5)² + (0.5)² + (0.5)² + (1.5)²) / 3 = 5/3, worked by hand.
    expect(ci95).toBeCloseTo((1.96 * Math.sqrt(5 / 3)) / 2, 12);
    expect(ci95).toBeCloseTo(1.2651746, 6);
  });

  it("agrees with the one-pass formula s² = (Σx² − n·x̄²)/(n − 1) on random data", () => {
    const rng = createRng(3);
    const values = Array.from({ length: 600 }, () => rng.uniform(0, 3) ** 2);
    const n = values.length;
    const mean = values.reduce((a, b) => a + b, 0) / n;
    const variance = (values.reduce((a, b) => a + b * b, 0) - n * mean * mean) / (n - 1);
    const result = meanWithCi95(values);
    expect(result.mean).toBeCloseTo(mean, 12);
    expect(result.ci95).toBeCloseTo(1.96 * Math.sqrt(variance / n), 10);
  });

  it("reports NaN for the interval of a single value (no spread to estimate)", () => {
    expect(meanWithCi95([0.5])).toEqual({ mean: 0.5, ci95: Number.NaN });
  });
});

describe("evaluateAdaptation() on sinusoid tasks with an MLP", () => {
  const model = mlp({ sizes: [1, 40, 40, 1] });
  let params: Params;
  beforeAll(async () => {
    await tf.setBackend("cpu");
    params = model.init(createRng(11));
  });
  afterAll(() => disposeParams(params));
  const base = (overrides: Partial<EvaluationOptions> = {}): EvaluationOptions => ({
    model,
    objective: squaredError(),
    innerOptimizer: plainSgd(0.01),
    sampler: sinusoid(),
    taskCount: 60,
    maxInnerSteps: 5,
    seed: 5,
    chunkSize: 25,
    ...overrides,
  });

  it("draws the same task set for the same seed (and chunking does not change it), another for another seed", () => {
    const a = evaluate(params, base({ maxInnerSteps: 0 }));
    const b = evaluate(params, base({ maxInnerSteps: 0, chunkSize: 7 }));
    const c = evaluate(params, base({ maxInnerSteps: 0, seed: 6 }));
    expect(b.perTaskLoss[0]).toEqual(a.perTaskLoss[0]);
    expect(c.perTaskLoss[0]).not.toEqual(a.perTaskLoss[0]);
  });

  it("step 0 is the unadapted query loss of each task, computed independently", () => {
    const result = evaluate(params, base({ maxInnerSteps: 1 }));
    const tasks = sinusoid().sample(60, createRng(5));
    const unadapted = tasks.map((task) =>
      tf.tidy(() => {
        const pred = model.forward(params, task.query.x).dataSync();
        const y = task.query.y.dataSync();
        let sum = 0;
        pred.forEach((p, k) => {
          sum += (p - y[k]!) ** 2;
        });
        return sum / pred.length;
      }),
    );
    tf.dispose(tasks.flatMap((task) => [task.support.x, task.support.y, task.query.x, task.query.y]));
    result.perTaskLoss[0]!.forEach((value, task) => expect(Math.abs(value - unadapted[task]!)).toBeLessThan(1e-5 * Math.max(1, unadapted[task]!)));
  });

  it("the last step equals the query loss after adapt() from @concord/algorithms with the same steps", () => {
    const result = evaluate(params, base({ taskCount: 10, maxInnerSteps: 3 }));
    const tasks = sinusoid().sample(10, createRng(5));
    const adapted = tasks.map((task) =>
      tf.tidy(() => {
        const { params: after } = adapt(params, task.support, { model, objective: squaredError(), innerOptimizer: plainSgd(0.01), innerSteps: 3 });
        return squaredError().loss(model.forward(after, task.query.x), task.query.y).dataSync()[0]!;
      }),
    );
    tf.dispose(tasks.flatMap((task) => [task.support.x, task.support.y, task.query.x, task.query.y]));
    result.perTaskLoss[3]!.forEach((value, task) => expect(Math.abs(value - adapted[task]!) / adapted[task]!).toBeLessThan(1e-5));
  });

  it("adaptStep() k times from init equals adapt() with k steps, bit for bit, per task and batched", () => {
    const tasks = sinusoid().sample(3, createRng(8));
    const objective = squaredError();
    const innerOptimizer = plainSgd(0.01);
    tf.tidy(() => {
      for (const task of tasks) {
        let stepped = { params, state: innerOptimizer.init(params) as unknown };
        for (let k = 1; k <= 3; k++) {
          stepped = adaptStep(stepped, task.support, { model, objective, innerOptimizer });
          const direct = adapt(params, task.support, { model, objective, innerOptimizer, innerSteps: k }).params;
          for (const name of Object.keys(params)) expect(stepped.params[name]!.dataSync()).toEqual(direct[name]!.dataSync());
        }
      }
      const support = { x: tf.stack(tasks.map((task) => task.support.x)), y: tf.stack(tasks.map((task) => task.support.y)) };
      const tiled = tileParams(params, 3);
      let stepped = { params: tiled, state: innerOptimizer.init(tiled) as unknown };
      for (let k = 0; k < 2; k++) stepped = adaptStep(stepped, support, { model, objective, innerOptimizer, execution: "batched" });
      const direct = adapt(tiled, support, { model, objective, innerOptimizer, innerSteps: 2, execution: "batched" }).params;
      for (const name of Object.keys(params)) expect(stepped.params[name]!.dataSync()).toEqual(direct[name]!.dataSync());
    });
    tf.dispose(tasks.flatMap((task) => [task.support.x, task.support.y, task.query.x, task.query.y]));
  });

  it("the mean query loss strictly improves with every inner step (small SGD steps)", () => {
    // He-initialised weights give outputs of a few units on x ∈ [−5, 5]; lr 0.01 overshoots there.
    const result = evaluate(params, base({ innerOptimizer: plainSgd(0.001) }));
    for (let step = 1; step < result.loss.length; step++) expect(result.loss[step]!.mean).toBeLessThan(result.loss[step - 1]!.mean);
  });

  it("batched and per-task execution agree task by task", () => {
    const batched = evaluate(params, base({ execution: "batched", taskCount: 20, maxInnerSteps: 3 }));
    const perTask = evaluate(params, base({ execution: "per-task", taskCount: 20, maxInnerSteps: 3 }));
    batched.perTaskLoss.forEach((values, step) =>
      values.forEach((value, task) => expect(Math.abs(value - perTask.perTaskLoss[step]![task]!)).toBeLessThan(1e-5 * Math.max(1, value))),
    );
  });

  it("reports accuracy when the objective's metrics have it, the same in both executions", () => {
    const withAccuracy = squaredError({ withAccuracy: true });
    const batched = evaluate(params, base({ objective: withAccuracy, execution: "batched", taskCount: 10, maxInnerSteps: 2 }));
    const perTask = evaluate(params, base({ objective: withAccuracy, execution: "per-task", taskCount: 10, maxInnerSteps: 2 }));
    expect(batched.accuracy).toHaveLength(3);
    expect(batched.perTaskAccuracy).toEqual(perTask.perTaskAccuracy);
    for (const values of batched.perTaskAccuracy!) for (const value of values) expect(value).toBeGreaterThanOrEqual(0);
    expect(evaluate(params, base({ taskCount: 4 })).accuracy).toBeUndefined();
  });

  it("ci95 of each step equals 1.96·s/√n of its per-task losses", () => {
    const result = evaluate(params, base({ maxInnerSteps: 1 }));
    result.loss.forEach(({ mean, ci95 }, step) => {
      const values = result.perTaskLoss[step]!;
      const n = values.length;
      const m = values.reduce((a, b) => a + b, 0) / n;
      const s = Math.sqrt(values.reduce((a, b) => a + (b - m) ** 2, 0) / (n - 1));
      expect(mean).toBeCloseTo(m, 10);
      expect(ci95).toBeCloseTo((1.96 * s) / Math.sqrt(n), 10);
    });
  });

  it("leaks no tensors, batched or per task", () => {
    expect(tensorGrowth(() => evaluate(params, base({ taskCount: 12, chunkSize: 5, maxInnerSteps: 2 })), 2)).toBe(0);
    expect(tensorGrowth(() => evaluate(params, base({ taskCount: 6, execution: "per-task", maxInnerSteps: 2 })), 2)).toBe(0);
  });

  it("rejects bad options with a ConcordError naming the field", () => {
    const cases: [Partial<EvaluationOptions>, string][] = [
      [{ taskCount: 1 }, "taskCount"],
      [{ maxInnerSteps: -1 }, "maxInnerSteps"],
      [{ chunkSize: 0 }, "chunkSize"],
      [{ seed: 1.5 }, "seed"],
      [{ execution: "fast" as never }, "execution"],
      [{ model: { ...model, forwardBatched: undefined }, execution: "batched" }, "execution"],
      [{ sampler: {} as never }, "sampler"],
    ];
    for (const [overrides, field] of cases) {
      expect(() => evaluate(params, base(overrides))).toThrow(ConcordError);
      expect(() => evaluate(params, base(overrides))).toThrow(new RegExp(`^${field}: `));
    }
  });
});

describe("combineEvaluations", () => {
  const result = (losses: number[][], backend = "cpu"): EvaluationResult => ({
    taskCount: losses[0]!.length,
    loss: losses.map((values, step) => ({ step, ...meanWithCi95(values) })),
    perTaskLoss: losses,
    backend,
  });

  it("pools the tasks of every seed: n = seeds × tasks, statistics over the pooled values", () => {
    const a = result([
      [1, 2, 3],
      [0.5, 1, 1.5],
    ]);
    const b = result([
      [4, 5, 6],
      [2, 2.5, 3],
    ]);
    const pooled = combineEvaluations([a, b]);
    expect(pooled.taskCount).toBe(6);
    expect(pooled.perTaskLoss).toEqual([
      [1, 2, 3, 4, 5, 6],
      [0.5, 1, 1.5, 2, 2.5, 3],
    ]);
    expect(pooled.loss[0]!.mean).toBe(3.5);
    // s² of 1..6 = 17.5 / 5 = 3.5, by hand.
    expect(pooled.loss[0]!.ci95).toBeCloseTo((1.96 * Math.sqrt(3.5)) / Math.sqrt(6), 12);
    expect(pooled.loss[1]!.mean).toBe(1.75);
    expect(pooled.backend).toBe("cpu");
    expect(pooled.accuracy).toBeUndefined();
  });

  it("names every backend involved, keeps accuracy only when all results have it", () => {
    const withAccuracy: EvaluationResult = { ...result([[1, 2]]), accuracy: [{ step: 0, mean: 0.5, ci95: 0 }], perTaskAccuracy: [[0.25, 0.75]] };
    const pooled = combineEvaluations([withAccuracy, { ...withAccuracy, backend: "wasm" }]);
    expect(pooled.backend).toBe("cpu,wasm");
    expect(pooled.perTaskAccuracy).toEqual([[0.25, 0.75, 0.25, 0.75]]);
    expect(pooled.accuracy![0]!.mean).toBe(0.5);
    expect(combineEvaluations([withAccuracy, result([[3, 4]])]).accuracy).toBeUndefined();
  });

  it("refuses an empty list and results with different step counts", () => {
    expect(() => combineEvaluations([])).toThrow(/^results: /);
    expect(() =>
      combineEvaluations([
        result([[1, 2]]),
        result([
          [1, 2],
          [3, 4],
        ]),
      ]),
    ).toThrow(/^results\[1\]: /);
  });
});

describeEachBackend("evaluateAdaptation() accuracy on a few-shot conv-net (the Omniglot example's meta-test)", () => {
  /** 3-way tasks of random 8×8 images, one per class in support and query. */
  const images: TaskSampler = {
    name: "random-images",
    sample(count: number, rng: Rng): Task[] {
      const batch = () => ({
        x: tf.tensor4d(
          Float32Array.from({ length: 3 * 64 }, () => rng.uniform(0, 1)),
          [3, 8, 8, 1],
        ),
        y: tf.tensor1d([0, 1, 2], "int32"),
      });
      return Array.from({ length: count }, () => ({ support: batch(), query: batch() }));
    },
  };

  it("per step, the mean and ci95 of argmax accuracy after adapt() with that many steps, tasks drawn one by one", () => {
    const model = convNet({ ways: 3, inputShape: [8, 8, 1], filters: 4, blocks: 2 });
    const params = model.init(createRng(1));
    const options = { model, objective: softmaxCrossEntropy(), innerOptimizer: sgd({ lr: 0.4 }) };
    const before = tf.memory().numTensors;
    const result = evaluate(params, { ...options, sampler: images, taskCount: 6, maxInnerSteps: 2, seed: 5, chunkSize: 4, execution: "per-task" });
    expect(tf.memory().numTensors).toBe(before);
    // Independently: one task at a time from the same stream, argmax accuracy of the adapted model.
    const rng = createRng(5);
    const perStep: number[][] = [[], [], []];
    for (let t = 0; t < 6; t++) {
      const [task] = images.sample(1, rng);
      for (let step = 0; step <= 2; step++) {
        perStep[step]!.push(
          tf.tidy(() => {
            const adapted = adapt(params, task!.support, { ...options, innerSteps: step }).params;
            const logits = model.forward(adapted, task!.query.x);
            return tf.mean(tf.cast(tf.equal(tf.argMax(logits, 1), tf.cast(task!.query.y, "int32")), "float32")).dataSync()[0]!;
          }),
        );
      }
      tf.dispose([task!.support.x, task!.support.y, task!.query.x, task!.query.y]);
    }
    expect(result.accuracy!.map((s) => s.step)).toEqual([0, 1, 2]);
    perStep.forEach((values, step) => {
      const n = values.length;
      const mean = values.reduce((a, b) => a + b, 0) / n;
      const ci95 = (1.96 * Math.sqrt(values.reduce((a, b) => a + (b - mean) ** 2, 0) / (n - 1))) / Math.sqrt(n);
      expect(result.accuracy![step]!.mean).toBeCloseTo(mean, 6);
      expect(result.accuracy![step]!.ci95).toBeCloseTo(ci95, 6);
    });
    disposeParams(params);
  });
});

describe("evaluateAdaptation() records each task's group when the sampler declares groups", () => {
  beforeAll(async () => {
    await tf.setBackend("cpu");
  });

  it("perTaskGroup follows the tasks drawn (chunk after chunk), groupNames the sampler's, and combineEvaluations pools them", () => {
    const sampler = sinusoid({ supportSize: 5, querySize: 5 });
    const model = mlp({ sizes: [1, 4, 1], init: "pytorch" });
    const params = model.init(createRng(1));
    const options = {
      model,
      objective: squaredErrorObjective(),
      innerOptimizer: sgd({ lr: 0.01 }),
      sampler,
      taskCount: 30,
      maxInnerSteps: 1,
      seed: 5,
      chunkSize: 7,
    };
    const result = evaluate(params, options);
    const { tasks, info } = sampler.sampleWithInfo(30, createRng(5));
    tf.dispose(tasks.flatMap((task) => [task.support.x, task.support.y, task.query.x, task.query.y]));
    expect(result.perTaskGroup).toEqual(info.map((task) => task.band));
    expect(result.groupNames).toEqual(sampler.groups);
    const pooled = combineEvaluations([result, evaluate(params, { ...options, seed: 6 })]);
    expect(pooled.perTaskGroup).toHaveLength(60);
    expect(pooled.perTaskGroup!.slice(0, 30)).toEqual(result.perTaskGroup);
    disposeParams(params);
  });

  it("refuses a task whose group is outside the sampler's groups, naming sampler.groups", () => {
    const inner = sinusoid({ supportSize: 5, querySize: 5 });
    const lying: TaskSampler = { name: "lying", groups: ["only"], sample: (count, rng) => inner.sample(count, rng).map((task) => ({ ...task, group: 3 })) };
    const model = mlp({ sizes: [1, 4, 1], init: "pytorch" });
    const params = model.init(createRng(1));
    const attempt = () =>
      evaluate(params, {
        model,
        objective: squaredErrorObjective(),
        innerOptimizer: sgd({ lr: 0.01 }),
        sampler: lying,
        taskCount: 4,
        maxInnerSteps: 0,
        seed: 5,
      });
    expect(attempt).toThrow(ConcordError);
    expect(attempt).toThrow("sampler 'lying' declares 1 groups, but its task 0 has group 3; expected an integer in [0, 0]");
    disposeParams(params);
  });
});

function squaredErrorObjective() {
  return { name: "mse", loss: (pred: tf.Tensor, y: tf.Tensor) => tf.mean(tf.square(tf.sub(pred, y))) as tf.Scalar };
}
