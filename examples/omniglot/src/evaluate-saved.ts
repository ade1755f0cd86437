// Re-scores a run's saved parameters with evaluateAdaptation() (main.ts's meta-test, on demand): node dist/evaluate-saved.js --run runs/ga [--eval-tasks 600 --eval-seed 12345]
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { parseArgs } from "node:util";
import * as tf from "@tensorflow/tfjs-core";
import { convNet, softmaxCrossEntropy } from "@concord/models";
import { sgd } from "@concord/optimizers";
import { evaluateAdaptation } from "@concord/algorithms";
import { type BackendChoice, useBackend } from "@concord/backend";
import { omniglotTasks } from "@concord/tasks/node";

const { values } = parseArgs({
  options: {
    run: { type: "string", default: "runs/omniglot" },
    data: { type: "string" },
    "eval-tasks": { type: "string" },
    "eval-seed": { type: "string" },
    backend: { type: "string", default: "auto" },
  },
});
const run = String(values.run);
const results = JSON.parse(await readFile(join(run, "results.json"), "utf8")) as {
  config: { ways: number; shots: number; queryShots: number; innerLr: number; evalSteps: number; evalTasks: number; evalSeed: number };
};
const saved = JSON.parse(await readFile(join(run, "params.json"), "utf8")) as Record<string, { shape: number[]; values: number[] }>;
const backend = await useBackend(values.backend as BackendChoice);
const { ways, shots, queryShots, innerLr, evalSteps } = results.config;
const params = Object.fromEntries(Object.entries(saved).map(([name, { shape, values: v }]) => [name, tf.tensor(v, shape, "float32")]));
const evaluation = evaluateAdaptation(params, {
  model: convNet({ ways }),
  objective: softmaxCrossEntropy(),
  innerOptimizer: sgd({ lr: innerLr }),
  sampler: await omniglotTasks({ ...(values.data ? { dataDir: values.data } : {}), ways, shots, queryShots, split: "test" }),
  taskCount: values["eval-tasks"] ? Number(values["eval-tasks"]) : results.config.evalTasks,
  maxInnerSteps: evalSteps,
  seed: values["eval-seed"] ? Number(values["eval-seed"]) : results.config.evalSeed,
  execution: "per-task",
});
console.log(JSON.stringify({ run, backend, taskCount: evaluation.taskCount, accuracy: evaluation.accuracy }));
