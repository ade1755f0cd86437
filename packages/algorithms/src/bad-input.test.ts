import * as tf from "@tensorflow/tfjs-core";
import { ConcordError, createRng, disposeParams, type MetaAlgorithm, type Task, type WeightingScheme } from "@concord/core";
import { describeEachBackend, tensorGrowth, catchConcordError } from "@concord/core/testing";
import { meanSquaredError, mlp } from "@concord/models";
import { sgd } from "@concord/optimizers";
import { sinusoid } from "@concord/tasks";
import { uniform } from "@concord/weighting";
import { expect, it } from "vitest";
import { maml, reptile } from "./index.js";

const model = mlp({ sizes: [1, 8, 1] });

function step(algorithm: MetaAlgorithm, tasks: readonly Task[], weighting: WeightingScheme = uniform()) {
  const params = model.init(createRng(1));
  try {
    const result = algorithm.step({ params, tasks, model, objective: meanSquaredError(), innerOptimizer: sgd({ lr: 0.01 }), weighting, iteration: 0 });
    disposeParams(result.metaGradient);
    return result;
  } finally {
    disposeParams(params);
  }
}

describeEachBackend("bad input to the meta-algorithms", () => {
  const tasks = () => sinusoid().sample(3, createRng(2));

  it("an empty meta-batch", () => {
    expect(catchConcordError(() => step(maml(), [])).message).toMatch(/^tasks: expected a non-empty meta-batch/);
  });

  it("innerSteps < 1 or not an integer", () => {
    expect(catchConcordError(() => step(maml({ innerSteps: 0 }), tasks())).message).toMatch(/^innerSteps: expected an integer >= 1, got 0/);
    expect(catchConcordError(() => step(reptile({ innerSteps: 1.5 }), tasks())).field).toBe("innerSteps");
  });

  it("a chunkSize that is not a positive integer", () => {
    expect(catchConcordError(() => maml({ chunkSize: 0 })).message).toMatch(/^chunkSize: expected an integer >= 1, got 0/);
    expect(catchConcordError(() => reptile({ chunkSize: 2.5 })).field).toBe("chunkSize");
  });

  it("an order other than 1 or 2", () => {
    expect(catchConcordError(() => maml({ order: 3 as 1 })).message).toBe("order: expected 1 or 2, got 3");
  });

  it("support and query of different lengths", () => {
    const [task] = tasks();
    const bad = { ...task!, query: { x: task!.query.x, y: tf.zeros([3, 1]) } };
    expect(catchConcordError(() => step(maml(), [bad])).field).toBe("tasks[0].query");
  });

  it("inputs of the wrong width for the model", () => {
    const bad = { support: { x: tf.zeros([4, 3]), y: tf.zeros([4, 1]) }, query: { x: tf.zeros([4, 3]), y: tf.zeros([4, 1]) } };
    expect(catchConcordError(() => step(maml({ execution: "per-task" }), [bad])).message).toMatch(/expected shape \[K, 1\]/);
  });

  it("batched execution requested for tasks of unequal shapes", () => {
    const small = sinusoid({ supportSize: 5 }).sample(1, createRng(3));
    expect(catchConcordError(() => step(maml({ execution: "batched" }), [...tasks(), ...small])).field).toBe("execution");
  });

  it("a weighting scheme that returns the wrong shape or NaN", () => {
    const wrongShape: WeightingScheme = { name: "wrong-shape", weights: () => ({ weights: tf.ones([2]) }) };
    const notANumber: WeightingScheme = { name: "nan", weights: ({ updates }) => ({ weights: tf.fill([updates.shape[0]], Number.NaN) as tf.Tensor1D }) };
    expect(catchConcordError(() => step(maml(), tasks(), wrongShape)).message).toMatch(/wrong-shape.*shape \[2\].*expected \[3\]/);
    expect(catchConcordError(() => step(reptile(), tasks(), notANumber)).message).toMatch(/nan/);
  });

  it("a failed step leaks no tensors", () => {
    const fixed = tasks();
    const wrongShape: WeightingScheme = { name: "wrong-shape", weights: () => ({ weights: tf.ones([2]) }) };
    const growth = tensorGrowth(() => {
      expect(() => step(maml(), fixed, wrongShape)).toThrow(ConcordError);
    }, 5);
    expect(growth).toBe(0);
  });

  it("a successful step leaks no tensors (batched and per-task, MAML and Reptile)", () => {
    const fixed = tasks();
    for (const algorithm of [maml(), maml({ order: 1, execution: "per-task" }), reptile(), reptile({ execution: "per-task" })]) {
      expect(tensorGrowth(() => step(algorithm, fixed), 20)).toBe(0);
    }
  });
});
