// One benchmark workload in a fresh process (so peak RSS belongs to it). Started by scripts/bench.mjs
// with one JSON argument; prints one line `BENCH_RESULT {json}`.
//   { workload, backend, execution, iterations, warmup, memoryIterations? }
import * as tf from "@tensorflow/tfjs-core";
import { omniglotSettings, SINUSOID } from "./bench-workloads.mjs";

const load = (name, entry = "index") => import(new URL(`../packages/${name}/dist/${entry}.js`, import.meta.url).href);
const [core, backendSetup, models, optimizers, tasks, weighting, algorithms, algorithmsNode] = await Promise.all([
  ...["core", "backend", "models", "optimizers", "tasks", "weighting", "algorithms"].map((name) => load(name)),
  load("algorithms", "node"),
]);

const config = JSON.parse(process.argv[2] ?? "{}");
const { workload, backend, iterations, warmup } = config;
// "parallel": per-task execution shared out to worker threads (one per core, the caller included);
// "parallel-batched": batched execution, its chunks shared out to those threads.
const parallel = config.execution === "parallel" || config.execution === "parallel-batched";
const execution = { parallel: "per-task", "parallel-batched": "batched" }[config.execution] ?? config.execution;


/** Workload name → what to build. Every workload is the PyTorch reference's setup (see bench.mjs). */
function setup(name, pool) {
  const sinusoidAlgorithm = {
    "sinusoid-maml2": () => algorithms.maml({ order: 2, innerSteps: 1, execution, diagnostics: false, pool }),
    "sinusoid-maml1": () => algorithms.maml({ order: 1, innerSteps: 1, execution, diagnostics: false, pool }),
    "sinusoid-reptile5": () => algorithms.reptile({ innerSteps: 5, execution, diagnostics: false, pool }),
  }[name];
  if (sinusoidAlgorithm) {
    const sampler = tasks.sinusoid();
    return {
      model: models.mlp({ sizes: [1, 40, 40, 1] }),
      objective: models.meanSquaredError(),
      algorithm: sinusoidAlgorithm(),
      innerOptimizer: optimizers.sgd({ lr: SINUSOID.innerLr }),
      outerOptimizer: optimizers.adam({ lr: SINUSOID.outerLr }),
      sample: (rng) => sampler.sample(SINUSOID.metaBatch, rng),
    };
  }
  const omniglot = omniglotSettings(name);
  const order = { "omniglot-maml1": 1, "omniglot-maml2": 2 }[omniglot.algorithm];
  if (order) {
    const { ways, shots, queries, metaBatch } = omniglot;
    return {
      model: models.convNet({ ways }),
      objective: models.softmaxCrossEntropy(),
      algorithm: algorithms.maml({ order, innerSteps: 1, execution, diagnostics: false, pool, ...(execution === "batched" ? { chunkSize: omniglot.batchedChunkSize } : {}) }),
      innerOptimizer: optimizers.sgd({ lr: omniglot.innerLr }),
      outerOptimizer: optimizers.adam({ lr: omniglot.outerLr }),
      // Synthetic 28×28 images (timing only, as the PyTorch reference), integer labels.
      sample: (rng) =>
        Array.from({ length: metaBatch }, () => ({
          support: syntheticImages(rng, ways, shots),
          query: syntheticImages(rng, ways, queries),
        })),
    };
  }
  throw new Error(`unknown workload ${name}`);
}

function syntheticImages(rng, ways, perClass) {
  const count = ways * perClass;
  const pixels = Float32Array.from({ length: count * 28 * 28 }, () => rng.next());
  const labels = Array.from({ length: count }, (_, i) => i % ways);
  return { x: tf.tensor4d(pixels, [count, 28, 28, 1]), y: tf.tensor1d(labels, "int32") };
}

function disposeTasks(list) {
  for (const task of list) tf.dispose([task.support.x, task.support.y, task.query.x, task.query.y]);
}

// Ablation runs leave some of Concord's kernel replacements out.
await backendSetup.useBackend(backend, { skipKernels: config.without ?? [] });
// "native" is the wasm backend with Concord's native GEMM kernels.
if (tf.getBackend() !== (backend === "native" ? "wasm" : backend)) throw new Error(`backend ${backend} did not initialise`);
tf.env().set("DEBUG", false);

const pool =
  parallel
    ? await algorithmsNode.createTaskPool({ setup: new URL("./bench-setup.mjs", import.meta.url), setupOptions: { workload }, backend })
    : undefined;
const parts = setup(workload, pool);
const rng = core.createRng(0);
let params = parts.model.init(rng);

/** CPU time (all threads of this process) of the last iteration: a load-independent measure of work. */
let lastCpuMs = 0;

/** The CPU ms of the last runIteration() (scripts/bench-cpu.mjs). */
export function lastIterationCpuMs() {
  return lastCpuMs;
}

/** One meta-iteration: the timed part is the algorithm step plus the outer update, as in the PyTorch scripts. */
export function runIteration(index) {
  const batch = parts.sample(rng);
  const cpuStart = process.cpuUsage(); // outside the timed window: the call itself costs ~0.1 ms
  const start = performance.now();
  const { metaGradient } = parts.algorithm.step({
    params,
    tasks: batch,
    model: parts.model,
    objective: parts.objective,
    innerOptimizer: parts.innerOptimizer,
    weighting: weighting.uniform(),
    iteration: index,
  });
  const next = parts.outerOptimizer.apply(params, metaGradient);
  core.disposeParams(metaGradient);
  core.disposeParams(params);
  params = next;
  const elapsed = performance.now() - start;
  const cpu = process.cpuUsage(cpuStart);
  lastCpuMs = (cpu.user + cpu.system) / 1000;
  disposeTasks(batch);
  return elapsed;
}

function heapBytes() {
  const b = tf.backend();
  return b?.wasm?.HEAPU8?.byteLength ?? null;
}

const result = { workload, backend, execution: config.execution, threads: pool?.threads ?? 1, iterations, warmup, without: config.without ?? [] };
if (config.profileOnly) {
  // imported by bench-profile.mjs
} else if (config.memoryIterations) {
  // Memory mode: numTensors and RSS sampled every tenth of the run.
  const samples = [];
  const every = Math.max(1, Math.floor(config.memoryIterations / 10));
  for (let i = 0; i < config.memoryIterations; i++) {
    runIteration(i);
    if ((i + 1) % every === 0) samples.push({ iteration: i + 1, numTensors: tf.memory().numTensors, numBytes: tf.memory().numBytes, rssBytes: process.memoryUsage().rss });
  }
  result.memory = samples;
} else {
  for (let i = 0; i < warmup; i++) runIteration(i);
  const times = [];
  const cpuTimes = [];
  for (let i = 0; i < iterations; i++) {
    times.push(runIteration(warmup + i));
    cpuTimes.push(lastCpuMs);
  }
  times.sort((a, b) => a - b);
  cpuTimes.sort((a, b) => a - b);
  result.medianCpuMs = cpuTimes[Math.floor(cpuTimes.length / 2)];
  result.medianMs = times[Math.floor(times.length / 2)];
  result.minMs = times[0];
  result.maxMs = times[times.length - 1];
  // One more iteration under tf.profile for the peak of live tfjs bytes within a step.
  const profile = await tf.profile(() => {
    runIteration(warmup + iterations);
  });
  result.tfjsPeakBytes = profile.peakBytes;
  result.kernelsPerIteration = profile.kernels.length;
}
if (!config.profileOnly) {
  result.tfjsBytes = tf.memory().numBytes;
  result.numTensors = tf.memory().numTensors;
  result.wasmHeapBytes = heapBytes();
  result.peakRssBytes = process.resourceUsage().maxRSS * 1024;
  console.log(`BENCH_RESULT ${JSON.stringify(result)}`);
  await pool?.close();
}
