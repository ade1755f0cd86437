/**
 * One fixed second-order MAML meta-gradient on sinusoid tasks, the same computation in a page and in
 * Node: MLP 1-40-40-1 from createRng(0), 10 tasks from createRng(1), one inner SGD step (α = 0.01),
 * uniform weights, batched execution. Used by the browser test to compare backends with Node's cpu.
 */
import * as tf from "@tensorflow/tfjs-core";
import { maml } from "@concord/algorithms";
import { createRng, disposeParams } from "@concord/core";
import { meanSquaredError, mlp } from "@concord/models";
import { sgd } from "@concord/optimizers";
import { sinusoid } from "@concord/tasks";
import { uniform } from "@concord/weighting";

export function referenceMetaGradient(): Record<string, number[]> {
  const model = mlp({ sizes: [1, 40, 40, 1], activation: "relu", init: "pytorch" });
  const params = model.init(createRng(0));
  const tasks = sinusoid({ supportSize: 10, querySize: 10 }).sample(10, createRng(1));
  try {
    const { metaGradient } = maml({ order: 2, innerSteps: 1, execution: "batched" }).step({
      params,
      tasks,
      model,
      objective: meanSquaredError(),
      innerOptimizer: sgd({ lr: 0.01 }),
      weighting: uniform(),
      iteration: 0,
    });
    const out = Object.fromEntries(Object.entries(metaGradient).map(([name, value]) => [name, Array.from(value.dataSync())]));
    disposeParams(metaGradient);
    return out;
  } finally {
    disposeParams(params);
    for (const task of tasks) tf.dispose([task.support.x, task.support.y, task.query.x, task.query.y]);
  }
}
