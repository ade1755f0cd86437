import { disposeParams, type MetaAlgorithm } from "@concord/core";
import { describeEachBackend } from "@concord/core/testing";
import { meanSquaredError, mlp, softmaxCrossEntropy } from "@concord/models";
import { sgd } from "@concord/optimizers";
import { uniform } from "@concord/weighting";
import { expect, it } from "vitest";
import { type ExecutionOption, maml, reptile } from "./index.js";
import { disposeTasks, randomTasks, randomTheta, toParams, toTasks } from "./testing/fixtures.js";
import { adaptReference, loss, type ReferenceNet } from "./testing/reference-mlp.js";

// MAML takes the query losses after adaptation from the pass it differentiates; Reptile evaluates
// the query set separately. Both must report the same number: mean_i L_query_i(θ'_i).
const ALPHA = 0.1;
const STEPS = 2;
const nets: ReferenceNet[] = [
  { sizes: [1, 8, 8, 1], activation: "relu", loss: "mse" },
  { sizes: [2, 6, 3], activation: "tanh", loss: "cross-entropy" },
];

describeEachBackend("query loss after adaptation in the step metrics", () => {
  for (const net of nets) {
    const theta = randomTheta(net, 4);
    const reference = randomTasks(net, 3, 5, 9);
    const expected =
      reference.reduce((sum, task) => sum + loss(net, adaptReference(net, theta, task, ALPHA, STEPS), task.query.x, task.query.y), 0) / reference.length;
    const algorithms: [string, (execution: ExecutionOption) => MetaAlgorithm][] = [
      ["MAML 2nd order", (execution) => maml({ order: 2, innerSteps: STEPS, execution })],
      ["MAML 1st order", (execution) => maml({ order: 1, innerSteps: STEPS, execution })],
      ["Reptile", (execution) => reptile({ innerSteps: STEPS, execution })],
    ];
    for (const [title, make] of algorithms) {
      for (const execution of ["batched", "per-task"] as const) {
        it(`${net.loss}, ${title}, ${execution}: queryLossAfter equals the float64 reference`, () => {
          const params = toParams(net, theta);
          const tasks = toTasks(net, reference);
          const model = mlp({ sizes: [...net.sizes], activation: net.activation });
          const objective = net.loss === "mse" ? meanSquaredError() : softmaxCrossEntropy();
          const result = make(execution).step({ params, tasks, model, objective, innerOptimizer: sgd({ lr: ALPHA }), weighting: uniform(), iteration: 0 });
          expect(Math.abs(result.metrics.queryLossAfter - expected) / Math.abs(expected)).toBeLessThan(1e-5);
          disposeParams(result.metaGradient);
          disposeParams(params);
          disposeTasks(tasks);
        });
      }
    }
  }
});
