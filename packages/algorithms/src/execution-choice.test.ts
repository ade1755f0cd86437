// What execution "auto" picks: batched when the model, objective and tasks allow it, unless the
// model prefers per-task (Model.preferredExecution; convNet does); "batched" still runs batched.
import * as tf from "@tensorflow/tfjs-core";
import { createRng, disposeParams, type MetaAlgorithm, type Model } from "@concord/core";
import { describeEachBackend } from "@concord/core/testing";
import { convNet, meanSquaredError, mlp } from "@concord/models";
import { sgd } from "@concord/optimizers";
import { sinusoid } from "@concord/tasks";
import { uniform } from "@concord/weighting";
import { expect, it } from "vitest";
import { evaluateAdaptation, type ExecutionOption, maml, reptile } from "./index.js";

/** An MLP that counts its forwardBatched calls, with the given preference. */
function countingModel(preferredExecution?: "batched" | "per-task") {
  const base = mlp({ sizes: [1, 8, 1] });
  const calls = { batched: 0 };
  const model: Model = {
    ...base,
    ...(preferredExecution ? { preferredExecution } : {}),
    forwardBatched: (params, x) => {
      calls.batched++;
      return base.forwardBatched(params, x);
    },
  };
  return { model, calls };
}

function step(algorithm: MetaAlgorithm, model: Model): void {
  const params = model.init(createRng(1));
  const tasks = sinusoid().sample(3, createRng(2));
  try {
    disposeParams(
      algorithm.step({ params, tasks, model, objective: meanSquaredError(), innerOptimizer: sgd({ lr: 0.01 }), weighting: uniform(), iteration: 0 })
        .metaGradient,
    );
  } finally {
    disposeParams(params);
    for (const task of tasks) tf.dispose([task.support.x, task.support.y, task.query.x, task.query.y]);
  }
}

function evaluate(model: Model, execution?: "auto" | "batched" | "per-task"): void {
  const params = model.init(createRng(1));
  evaluateAdaptation(params, {
    model,
    objective: meanSquaredError(),
    innerOptimizer: sgd({ lr: 0.01 }),
    sampler: sinusoid(),
    taskCount: 4,
    maxInnerSteps: 1,
    seed: 3,
    ...(execution ? { execution } : {}),
  });
  disposeParams(params);
}

describeEachBackend("execution 'auto' and the model's preferred execution", () => {
  const algorithms: [string, (execution: ExecutionOption) => MetaAlgorithm][] = [
    ["maml", (execution) => maml({ execution, diagnostics: false })],
    ["reptile", (execution) => reptile({ innerSteps: 1, execution })],
  ];
  for (const [name, algorithm] of algorithms) {
    it(`${name}: auto batches a model without a preference, runs a per-task-preferring one task by task; "batched" always batches`, () => {
      const plain = countingModel();
      step(algorithm("auto"), plain.model);
      expect(plain.calls.batched).toBeGreaterThan(0);

      const perTask = countingModel("per-task");
      step(algorithm("auto"), perTask.model);
      expect(perTask.calls.batched).toBe(0);
      step(algorithm("batched"), perTask.model);
      expect(perTask.calls.batched).toBeGreaterThan(0);
    });
  }

  it("evaluateAdaptation: the same choice", () => {
    const plain = countingModel();
    evaluate(plain.model);
    expect(plain.calls.batched).toBeGreaterThan(0);
    const perTask = countingModel("per-task");
    evaluate(perTask.model, "auto");
    expect(perTask.calls.batched).toBe(0);
    evaluate(perTask.model, "batched");
    expect(perTask.calls.batched).toBeGreaterThan(0);
  });

  it("convNet prefers per-task (its batched path is exact but not faster, and far larger in memory)", () => {
    const model = convNet({ ways: 3, inputShape: [8, 8, 1], filters: 4, blocks: 2 });
    expect(typeof model.forwardBatched).toBe("function");
    expect(model.preferredExecution).toBe("per-task");
  });
});
