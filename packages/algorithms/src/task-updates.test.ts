import * as tf from "@tensorflow/tfjs-core";
import { disposeParams, flattenParams } from "@concord/core";
import { describeEachBackend } from "@concord/core/testing";
import { meanSquaredError, mlp } from "@concord/models";
import { sgd } from "@concord/optimizers";
import { expect, it } from "vitest";
import { taskUpdates } from "./index.js";
import { disposeTasks, randomTasks, randomTheta, toParams, toTasks } from "./testing/fixtures.js";
import { adaptReference, type ReferenceNet } from "./testing/reference-mlp.js";

// taskUpdates is what the GA analyses feed a weighting scheme: g_i = θ − θ'_i per task, checked
// against the float64 reference MLP adapted with plain SGD.
const net: ReferenceNet = { sizes: [2, 4, 1], activation: "tanh", loss: "mse" };
const options = (execution: "per-task" | "batched") => ({
  model: mlp({ sizes: [2, 4, 1], activation: "tanh" }),
  objective: meanSquaredError(),
  innerOptimizer: sgd({ lr: 0.2 }),
  innerSteps: 2,
  execution,
});

describeEachBackend("taskUpdates", () => {
  for (const execution of ["per-task", "batched"] as const) {
    it(`${execution}: row i is θ − θ'_i of the float64 reference, in flattenParams order, and leaks nothing`, () => {
      const theta = randomTheta(net, 11);
      const reference = randomTasks(net, 3, 5, 12);
      const params = toParams(net, theta);
      const tasks = toTasks(net, reference);
      try {
        const before = tf.memory().numTensors;
        const updates = taskUpdates(params, tasks, options(execution));
        expect(updates.shape).toEqual([3, theta.length]);
        const rows = updates.arraySync();
        updates.dispose();
        expect(tf.memory().numTensors).toBe(before);
        reference.forEach((task, i) => {
          const adapted = adaptReference(net, theta, task, 0.2, 2);
          const expectedParams = toParams(
            net,
            theta.map((value, p) => value - adapted[p]!),
          );
          const expected = flattenParams(expectedParams).dataSync();
          disposeParams(expectedParams);
          expect(Math.max(...rows[i]!.map((value, p) => Math.abs(value - expected[p]!)))).toBeLessThan(1e-5);
          expect(Math.max(...rows[i]!.map(Math.abs))).toBeGreaterThan(1e-3); // the tasks did move θ
        });
      } finally {
        disposeParams(params);
        disposeTasks(tasks);
      }
    });
  }
});
