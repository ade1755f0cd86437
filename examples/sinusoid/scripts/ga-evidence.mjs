#!/usr/bin/env node
// What gradient agreement does to the sinusoid meta-update, measured on a `concord compare` output
// folder (the main job's): for every arm trained with gradient agreement,
// - from metrics.jsonl, early (first 10% of iterations) and late (last 10%): the share of negative
//   weights, the effective number of tasks (Σ|w|)²/Σw² and the cosine between the weighted and the
//   uniform direction;
// - at the initial parameters and at the final checkpoint: the weights of 40 meta-batches of 25 fresh
//   tasks against each task's amplitude (mean weight per amplitude quintile, Pearson correlation) and,
//   when the config corrupts training tasks (sinusoid-outliers), split into corrupted and clean tasks
//   (the sampler's `sampleWithInfo` flags each corrupted task).
// Usage: node scripts/ga-evidence.mjs <compare-out-dir> [--json out.json]
import { readdirSync, existsSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { taskUpdates } from "@concord/algorithms";
import { useBackend } from "@concord/backend";
import { createRng, disposeParams } from "@concord/core";
import { disposeCheckpoint, loadCheckpoint, readMetrics, splitSeed, createRegistry, createParts, parseConfig } from "@concord/runner";
import { sinusoid } from "@concord/tasks";
import { gradientAgreement } from "@concord/weighting";
import * as tf from "@tensorflow/tfjs-core";
import { mean, pearson, trainingPhases } from "../../../scripts/ga-evidence-stats.mjs";

const [dir, ...rest] = process.argv.slice(2);
if (!dir || !existsSync(dir)) {
  console.error("usage: node scripts/ga-evidence.mjs <compare-out-dir> [--json out.json]");
  process.exit(2);
}
const jsonOut = rest[0] === "--json" ? rest[1] : undefined;
tf.env().set("PROD", true);
await useBackend("cpu");

/** Count, mean weight, share of negative weights and mean update norm ‖g_i‖ of the tasks picked by `keep`. */
function weightSummary(weights, updateNorms, keep) {
  const picked = weights.filter((_, i) => keep(i));
  return {
    tasks: picked.length,
    meanWeight: mean(picked),
    negativeShare: picked.filter((w) => w < 0).length / picked.length,
    meanUpdateNorm: mean(updateNorms.filter((_, i) => keep(i))),
  };
}

/** GA weights of `batches` fresh meta-batches at `params`, with each task's amplitude (and corruption). */
function weightsByAmplitude(params, parts, config, innerSteps, batches = 40) {
  const sampler = sinusoid(config.tasks.options);
  const rng = createRng(2024);
  const scheme = gradientAgreement();
  const weights = [];
  const amplitudes = [];
  const corrupted = [];
  const updateNorms = [];
  for (let b = 0; b < batches; b++) {
    const { tasks, info } = sampler.sampleWithInfo(config.metaBatchSize, rng);
    tf.tidy(() => {
      const updates = taskUpdates(params, tasks, { model: parts.model, objective: parts.objective, innerOptimizer: parts.innerOptimizer, innerSteps, execution: "per-task" });
      const result = scheme.weights({ updates, losses: tf.zeros([tasks.length]), iteration: 0 });
      weights.push(...result.weights.dataSync());
      updateNorms.push(...tf.norm(updates, "euclidean", 1).dataSync());
    });
    amplitudes.push(...info.map((task) => task.amplitude));
    corrupted.push(...info.map((task) => task.corrupted));
    for (const task of tasks) tf.dispose([task.support.x, task.support.y, task.query.x, task.query.y]);
  }
  const order = amplitudes.map((_, i) => i).sort((i, j) => amplitudes[i] - amplitudes[j]);
  const quintiles = [0, 1, 2, 3, 4].map((q) => {
    const slice = order.slice((q * order.length) / 5, ((q + 1) * order.length) / 5);
    return { amplitude: `${amplitudes[slice[0]].toFixed(2)}–${amplitudes[slice.at(-1)].toFixed(2)}`, meanWeight: mean(slice.map((i) => weights[i])) };
  });
  return {
    tasks: weights.length,
    uniformWeight: 1 / config.metaBatchSize,
    negativeShare: weights.filter((w) => w < 0).length / weights.length,
    correlationWithAmplitude: pearson(weights, amplitudes),
    correlationWithSquaredAmplitude: pearson(weights, amplitudes.map((a) => a * a)),
    quintiles,
    ...(config.tasks.options.corruption
      ? { byCorruption: { corrupted: weightSummary(weights, updateNorms, (i) => corrupted[i]), clean: weightSummary(weights, updateNorms, (i) => !corrupted[i]) } }
      : {}),
  };
}

const registry = createRegistry();
const report = {};
for (const arm of readdirSync(dir).filter((name) => name.endsWith("+agreement"))) {
  for (const seedDir of readdirSync(join(dir, arm)).filter((name) => /^seed-\d+$/.test(name))) {
    const runDir = join(dir, arm, seedDir);
    const records = readMetrics(join(runDir, "metrics.jsonl"));
    const checkpoint = loadCheckpoint(join(runDir, "checkpoint.ckpt"));
    const config = parseConfig(checkpoint.config);
    const parts = await createParts(config, registry);
    const innerSteps = config.algorithm.options.innerSteps ?? 1;
    const initial = parts.model.init(splitSeed(config.seed).initRng);
    report[`${arm} ${seedDir}`] = {
      training: trainingPhases(records),
      atInitialisation: weightsByAmplitude(initial, parts, config, innerSteps),
      atEnd: weightsByAmplitude(checkpoint.params, parts, config, innerSteps),
    };
    disposeParams(initial);
    disposeCheckpoint(checkpoint);
  }
}
console.log(JSON.stringify(report, null, 2));
if (jsonOut) writeFileSync(jsonOut, `${JSON.stringify(report, null, 2)}\n`);
