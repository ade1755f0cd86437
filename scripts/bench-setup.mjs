// TaskPool setup module of the benchmark: the worker threads build the same model, objective and
// inner optimizer as scripts/bench-worker.mjs.
import { omniglotSettings } from "./bench-workloads.mjs";

const load = (name) => import(new URL(`../packages/${name}/dist/index.js`, import.meta.url).href);

export async function createTaskSetup({ workload }) {
  const [models, optimizers] = await Promise.all([load("models"), load("optimizers")]);
  if (workload.startsWith("sinusoid")) {
    return { model: models.mlp({ sizes: [1, 40, 40, 1] }), objective: models.meanSquaredError(), innerOptimizer: optimizers.sgd({ lr: 0.01 }) };
  }
  const { ways, innerLr } = omniglotSettings(workload);
  return { model: models.convNet({ ways }), objective: models.softmaxCrossEntropy(), innerOptimizer: optimizers.sgd({ lr: innerLr }) };
}
