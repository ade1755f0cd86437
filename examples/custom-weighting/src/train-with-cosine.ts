// Using a custom weighting scheme from TypeScript: pass it to train() like any built-in one.
import * as tf from "@tensorflow/tfjs-core";
import { disposeParams } from "@concord/core";
import { evaluateAdaptation, maml } from "@concord/algorithms";
import { meanSquaredError } from "@concord/models";
import { adam, sgd } from "@concord/optimizers";
import { useBackend } from "@concord/backend";
import { createRegistry, train } from "@concord/runner";
import { sinusoid } from "@concord/tasks";
import { cosineAgreement } from "./cosine-agreement.js";

const backend = await useBackend("auto");
// The runner's "mlp" plug-in adds PyTorch's default initialisation, with which α = 0.01 is stable.
const model = createRegistry().create("model", { name: "mlp", options: { sizes: [1, 40, 40, 1], init: "pytorch" } });
const objective = meanSquaredError();
const innerOptimizer = sgd({ lr: 0.01 });
const outerOptimizer = adam({ lr: 0.001 });
const iterations = Number(process.argv[2] ?? 300);

const result = train({
  sampler: sinusoid(),
  model,
  objective,
  algorithm: maml({ order: 2, innerSteps: 1 }),
  weighting: cosineAgreement(),
  innerOptimizer,
  outerOptimizer,
  metaBatchSize: 25,
  iterations,
  seed: 0,
  onIteration: ({ iteration, metrics }) => {
    if (iteration % 100 === 0) {
      const negative = metrics.weights.filter((w) => w < 0).length;
      console.log(`iteration ${iteration}: query loss after adaptation ${metrics.queryLossAfter.toFixed(3)}, ${negative} negative weights`);
    }
  },
});

const evaluation = evaluateAdaptation(result.params, { model, objective, innerOptimizer, sampler: sinusoid(), taskCount: 200, maxInnerSteps: 10, seed: 1 });
const final = evaluation.loss.at(-1)!;
console.log(`${backend}: held-out loss after ${final.step} steps ${final.mean.toFixed(3)} ± ${final.ci95.toFixed(3)} over ${evaluation.taskCount} tasks`);
disposeParams(result.params);
outerOptimizer.dispose();
console.log(`tensors left: ${tf.memory().numTensors}`);
