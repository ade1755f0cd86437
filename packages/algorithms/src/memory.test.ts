import * as tf from "@tensorflow/tfjs-core";
import { createRng, disposeParams, type MetaAlgorithm, type Params } from "@concord/core";
import { describeEachBackend } from "@concord/core/testing";
import { meanSquaredError, mlp } from "@concord/models";
import { adam, sgd } from "@concord/optimizers";
import { sinusoid } from "@concord/tasks";
import { uniform } from "@concord/weighting";
import { expect, it } from "vitest";
import { maml, reptile } from "./index.js";

// The sinusoid benchmark's loop (MLP 1-40-40-1, Adam): live tensors and bytes must not grow with the
// iteration count. Short runs keep the file fast; `pnpm bench -- --memory 1000` follows numTensors
// and RSS over 1000 iterations of the benchmark itself.
function liveAfterEachIteration(algorithm: MetaAlgorithm, iterations: number, metaBatch: number): { tensors: number[]; bytes: number[] } {
  const rng = createRng(0);
  const model = mlp({ sizes: [1, 40, 40, 1] });
  const sampler = sinusoid();
  const outer = adam({ lr: 1e-3 });
  let params: Params = model.init(rng);
  const tensors: number[] = [];
  const bytes: number[] = [];
  for (let iteration = 0; iteration < iterations; iteration++) {
    const tasks = sampler.sample(metaBatch, rng);
    const { metaGradient } = algorithm.step({
      params,
      tasks,
      model,
      objective: meanSquaredError(),
      innerOptimizer: sgd({ lr: 0.01 }),
      weighting: uniform(),
      iteration,
    });
    const next = outer.apply(params, metaGradient);
    disposeParams(metaGradient);
    disposeParams(params);
    params = next;
    for (const task of tasks) tf.dispose([task.support.x, task.support.y, task.query.x, task.query.y]);
    tensors.push(tf.memory().numTensors);
    bytes.push(tf.memory().numBytes);
  }
  disposeParams(params);
  outer.dispose();
  return { tensors, bytes };
}

describeEachBackend("live tensors across sinusoid meta-iterations", (backend) => {
  const cases: [string, () => MetaAlgorithm, iterations: number, metaBatch: number][] = [
    ["second-order MAML, batched, meta-batch 25, 30 iterations", () => maml({ order: 2, execution: "batched", diagnostics: false }), 30, 25],
    ["first-order MAML, per-task, meta-batch 4, 10 iterations", () => maml({ order: 1, execution: "per-task", diagnostics: false }), 10, 4],
    ["Reptile, batched, with diagnostics, meta-batch 25, 10 iterations", () => reptile({ innerSteps: 5, execution: "batched" }), 10, 25],
  ];
  for (const [title, make, iterations, metaBatch] of cases) {
    it(title, () => {
      const before = tf.memory().numTensors;
      // The pure-JS cpu backend is several times slower: a third of the iterations still shows any growth.
      const { tensors, bytes } = liveAfterEachIteration(make(), backend === "cpu" ? Math.ceil(iterations / 3) : iterations, metaBatch);
      // After the first iteration (Adam creates its moments) every iteration ends with the same live set.
      expect(new Set(tensors.slice(1))).toEqual(new Set([tensors[1]]));
      expect(new Set(bytes.slice(1))).toEqual(new Set([bytes[1]]));
      expect(tf.memory().numTensors).toBe(before);
    });
  }
});
