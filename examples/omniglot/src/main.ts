// MAML on Omniglot N-way K-shot (MAML's protocol) with uniform or gradient-agreement task weighting:
// trains, then evaluates on held-out characters with a 95% CI, and writes results.json.
//   node dist/main.js --weighting agreement --order 1 --iterations 600 --out runs/ga
import { appendFileSync } from "node:fs";
import { mkdir, rename, writeFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import * as tf from "@tensorflow/tfjs-core";
import { ConcordError } from "@concord/core";
import { evaluateAdaptation, maml } from "@concord/algorithms";
import { convNet, softmaxCrossEntropy } from "@concord/models";
import { adam, sgd } from "@concord/optimizers";
import { type BackendChoice, useBackend } from "@concord/backend";
import { train } from "@concord/runner";
import { fewShot } from "@concord/tasks";
import { loadOmniglot, resolveOmniglotDir } from "@concord/tasks/node";
import { gradientAgreement, uniform } from "@concord/weighting";

const { values } = parseArgs({
  options: {
    data: { type: "string" },
    weighting: { type: "string", default: "uniform" },
    order: { type: "string", default: "1" },
    ways: { type: "string", default: "5" },
    shots: { type: "string", default: "1" },
    "query-shots": { type: "string" },
    "inner-lr": { type: "string", default: "0.4" },
    "inner-steps": { type: "string", default: "1" },
    "eval-steps": { type: "string", default: "3" },
    "meta-batch": { type: "string", default: "32" },
    "outer-lr": { type: "string", default: "0.001" },
    iterations: { type: "string", default: "20" },
    "max-minutes": { type: "string" },
    seed: { type: "string", default: "1" },
    "eval-tasks": { type: "string", default: "600" },
    "eval-seed": { type: "string", default: "12345" },
    backend: { type: "string", default: "auto" },
    "log-every": { type: "string", default: "10" },
    out: { type: "string", default: "runs/omniglot" },
  },
});

const int = (name: keyof typeof values) => Number.parseInt(String(values[name]), 10);
const num = (name: keyof typeof values) => Number.parseFloat(String(values[name]));
const ways = int("ways");
const shots = int("shots");
const queryShots = values["query-shots"] === undefined ? shots : int("query-shots");
const order = int("order");
if (order !== 1 && order !== 2) throw new ConcordError(`expected 1 or 2, got ${values.order}`, { field: "--order" });
const weightingName = String(values.weighting);
if (weightingName !== "uniform" && weightingName !== "agreement") {
  throw new ConcordError(`expected uniform or agreement, got ${weightingName}`, { field: "--weighting" });
}
const outDir = resolve(String(values.out));
const maxMinutes = values["max-minutes"] === undefined ? Number.POSITIVE_INFINITY : num("max-minutes");

const backend = await useBackend(values.backend as BackendChoice);
const omniglot = await loadOmniglot(resolveOmniglotDir(values.data, "--data"));
const split = omniglot.mamlSplit();
console.log(
  `backend ${backend}; Omniglot: ${omniglot.characters.classCount} characters, ` +
    `${split.train.classCount} training classes (with rotations), ${split.test.classCount} test characters`,
);

const model = convNet({ ways });
const objective = softmaxCrossEntropy();
const innerOptimizer = sgd({ lr: num("inner-lr") });
const config = {
  dataset: "omniglot",
  split: "maml (1200 train characters × 4 rotations, 423 test characters)",
  ways,
  shots,
  queryShots,
  order,
  weighting: weightingName,
  innerLr: num("inner-lr"),
  innerSteps: int("inner-steps"),
  evalSteps: int("eval-steps"),
  metaBatchSize: int("meta-batch"),
  outerOptimizer: `adam(lr=${num("outer-lr")})`,
  iterations: int("iterations"),
  maxMinutes,
  seed: int("seed"),
  evalTasks: int("eval-tasks"),
  evalSeed: int("eval-seed"),
  backend,
  model: { name: model.name, filters: model.filters, blocks: model.blocks, batchNorm: model.batchNorm },
};
await mkdir(outDir, { recursive: true });
// Synchronous: train() holds the event loop until it returns, so an async write would wait until the end.
const log = (line: object) => appendFileSync(join(outDir, "metrics.jsonl"), `${JSON.stringify(line)}\n`);

const started = performance.now();
let lastLog = started;
const result = train({
  sampler: fewShot({ dataset: split.train, ways, shots, queryShots }),
  model,
  objective,
  algorithm: maml({ order, innerSteps: int("inner-steps"), execution: "per-task", diagnostics: false }),
  weighting: weightingName === "agreement" ? gradientAgreement() : uniform(),
  innerOptimizer,
  outerOptimizer: adam({ lr: num("outer-lr") }),
  metaBatchSize: int("meta-batch"),
  iterations: int("iterations"),
  seed: int("seed"),
  onIteration: ({ iteration, metrics }) => {
    const now = performance.now();
    const minutes = (now - started) / 60000;
    if (iteration % int("log-every") === 0 || iteration === 1) {
      const weights = metrics.weights;
      const line = {
        iteration,
        queryLossAfter: metrics.queryLossAfter,
        minWeight: Math.min(...weights),
        maxWeight: Math.max(...weights),
        fellBack: metrics.fellBack,
        seconds: (now - started) / 1000,
        secondsPerIteration: (now - lastLog) / 1000 / (iteration === 1 ? 1 : int("log-every")),
        numTensors: tf.memory().numTensors,
      };
      lastLog = now;
      console.log(JSON.stringify(line));
      log(line);
    }
    return minutes >= maxMinutes ? "stop" : undefined;
  },
});
const trainSeconds = (performance.now() - started) / 1000;
console.log(`trained ${result.iteration} iterations in ${trainSeconds.toFixed(0)} s; evaluating on ${int("eval-tasks")} test tasks`);

const evalStarted = performance.now();
// One task at a time, as MAML's meta-test; chunks of 100 tasks give a progress line every 100.
const evaluation = evaluateAdaptation(result.params, {
  model,
  objective,
  innerOptimizer,
  sampler: fewShot({ dataset: split.test, ways, shots, queryShots }),
  taskCount: int("eval-tasks"),
  maxInnerSteps: int("eval-steps"),
  seed: int("eval-seed"),
  chunkSize: 100,
  execution: "per-task",
  onProgress: (done) => console.log(`evaluated ${done} tasks`),
});
const accuracy = evaluation.accuracy!;
const evalSeconds = (performance.now() - evalStarted) / 1000;
const summary = {
  config,
  iterations: result.iteration,
  trainSeconds,
  evalSeconds,
  accuracy,
  final: accuracy[accuracy.length - 1],
};
console.log(JSON.stringify(summary.final));
const params: Record<string, { shape: number[]; values: number[] }> = {};
for (const [name, value] of Object.entries(result.params)) params[name] = { shape: value.shape, values: Array.from(value.dataSync()) };
for (const [file, data] of [
  ["results.json", summary],
  ["params.json", params],
] as const) {
  await writeFile(join(outDir, `${file}.tmp`), JSON.stringify(data, null, 1));
  await rename(join(outDir, `${file}.tmp`), join(outDir, file));
}
