#!/usr/bin/env node
// What gradient agreement does to the Omniglot meta-update, measured on a `concord compare` output
// folder (the label-noise comparison or the paper-setting runs):
// - from each agreement run's metrics.jsonl, early (first 10% of iterations) and late (last 10%):
//   the share of negative weights, the effective number of tasks (Σ|w|)²/Σw² and the cosine between
//   the weighted and the uniform direction;
// - at the initial parameters and at every run's checkpoint when it has one (uniform runs too: what GA
//   would do to them): the GA weights of 40 fresh meta-batches of training tasks, each with a fixed number
//   of tasks whose labels are shuffled (round(share · N), share = --shuffled-share or the config's
//   labelNoise, none for clean configs), against the
//   size of each task's update ‖g_i‖: the mean weight of clean and of shuffled tasks, their shares of
//   negative weights, the correlation of the weight with ‖g_i‖², the mean weight per quintile of ‖g_i‖ and
//   the mean pairwise cosine between the tasks' updates.
// A run without the checkpoint (a committed results folder keeps only config.json and metrics.jsonl)
// still gets its training phases and θ₀.
// Usage: node examples/omniglot/scripts/ga-evidence.mjs <compare-out-dir> [--json out.json] [--checkpoint <file name>]
//        [--shuffled-share p]
// (run from the repository after `pnpm build`; uses the native backend when its addon is built, else wasm).
import { existsSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { meanPairwiseCosine, taskUpdates } from "@concord/algorithms";
import { useBackend } from "@concord/backend";
import { createRng, disposeParams } from "@concord/core";
import { createParts, createRegistry, disposeCheckpoint, loadCheckpoint, parseConfig, readMetrics, splitSeed } from "@concord/runner";
import { omniglotTasks } from "@concord/tasks/node";
import { gradientAgreement } from "@concord/weighting";
import * as tf from "@tensorflow/tfjs-core";
import { mean, pearson, trainingPhases } from "../../../scripts/ga-evidence-stats.mjs";

const [dir, ...rest] = process.argv.slice(2);
const flag = (name) => (rest.includes(name) ? rest[rest.indexOf(name) + 1] : undefined);
if (!dir || !existsSync(dir)) {
  console.error("usage: node examples/omniglot/scripts/ga-evidence.mjs <compare-out-dir> [--json out.json] [--checkpoint checkpoint.ckpt]");
  process.exit(2);
}
const jsonOut = flag("--json");
const checkpointFile = flag("--checkpoint") ?? "checkpoint.ckpt";
const shuffledShare = flag("--shuffled-share") === undefined ? undefined : Number(flag("--shuffled-share"));
if (shuffledShare !== undefined && !(shuffledShare >= 0 && shuffledShare <= 1)) {
  console.error(`--shuffled-share: expected a share in [0, 1], got ${JSON.stringify(flag("--shuffled-share"))}`);
  process.exit(2);
}
tf.env().set("PROD", true);
const backend = await useBackend("native").then(
  () => "native",
  async (error) => {
    console.error(`native backend unavailable (${error.message.split(":")[0]}); using wasm`);
    await useBackend("wasm");
    return "wasm";
  },
);

/** The training samplers of a config: clean and with every task's labels shuffled (same episodes otherwise). */
async function samplers(config) {
  const { labelNoise: _noise, ...options } = config.tasks.options;
  return { clean: await omniglotTasks({ ...options, labelNoise: 0 }), shuffled: await omniglotTasks({ ...options, labelNoise: 1 }) };
}

/** GA weights of `batches` fresh meta-batches at `params`; `noisy` tasks of each batch have shuffled labels. */
function weightsOfFreshBatches(params, parts, config, sources, noisy, batches = 40) {
  const size = config.metaBatchSize;
  const innerSteps = config.algorithm.options.innerSteps ?? 1;
  const rng = createRng(2024);
  const scheme = gradientAgreement();
  const rows = [];
  const pairwiseCosines = [];
  for (let b = 0; b < batches; b++) {
    const tasks = [...(noisy > 0 ? sources.shuffled.sample(noisy, rng) : []), ...sources.clean.sample(size - noisy, rng)];
    tf.tidy(() => {
      const updates = taskUpdates(params, tasks, { model: parts.model, objective: parts.objective, innerOptimizer: parts.innerOptimizer, innerSteps, execution: "per-task" });
      const weights = scheme.weights({ updates, losses: tf.zeros([size]), iteration: 0 }).weights.dataSync();
      const norms = tf.norm(updates, "euclidean", 1).dataSync();
      pairwiseCosines.push(meanPairwiseCosine(updates));
      tasks.forEach((_, i) => rows.push({ shuffled: i < noisy, weight: weights[i], norm: norms[i] }));
    });
    for (const task of tasks) tf.dispose([task.support.x, task.support.y, task.query.x, task.query.y]);
  }
  const summary = (group) => ({
    tasks: group.length,
    meanWeight: mean(group.map((r) => r.weight)),
    negativeShare: group.length === 0 ? Number.NaN : group.filter((r) => r.weight < 0).length / group.length,
    meanUpdateNorm: mean(group.map((r) => r.norm)),
  });
  const order = rows.map((_, i) => i).sort((i, j) => rows[i].norm - rows[j].norm);
  const byNormQuintile = [0, 1, 2, 3, 4].map((q) => {
    const slice = order.slice((q * order.length) / 5, ((q + 1) * order.length) / 5).map((i) => rows[i]);
    return { updateNorm: `${slice[0].norm.toFixed(2)}–${slice.at(-1).norm.toFixed(2)}`, meanWeight: mean(slice.map((r) => r.weight)) };
  });
  return {
    uniformWeight: 1 / size,
    shuffledPerBatch: noisy,
    clean: summary(rows.filter((r) => !r.shuffled)),
    shuffled: summary(rows.filter((r) => r.shuffled)),
    // How much the tasks' updates share their direction: GA's weights are uniform when they all agree.
    meanPairwiseCosine: mean(pairwiseCosines),
    correlationWithSquaredNorm: pearson(
      rows.map((r) => r.weight),
      rows.map((r) => r.norm * r.norm),
    ),
    byNormQuintile,
  };
}

const registry = createRegistry();
const report = { backend, checkpoint: checkpointFile, shuffledShare: shuffledShare ?? "the config's labelNoise", atInitialisation: {}, runs: {} };
for (const arm of readdirSync(dir).filter((name) => name.includes("+") && !name.endsWith(".json"))) {
  for (const seedDir of readdirSync(join(dir, arm)).filter((name) => /^seed-\d+$/.test(name))) {
    const runDir = join(dir, arm, seedDir);
    const checkpoint = existsSync(join(runDir, checkpointFile)) ? loadCheckpoint(join(runDir, checkpointFile)) : undefined;
    if (!checkpoint && !existsSync(join(runDir, "config.json"))) continue;
    const config = parseConfig(checkpoint ? checkpoint.config : JSON.parse(readFileSync(join(runDir, "config.json"), "utf8")));
    const parts = await createParts(config, registry);
    const sources = await samplers(config);
    const noisy = Math.round((shuffledShare ?? config.tasks.options.labelNoise ?? 0) * config.metaBatchSize);
    const run = { iteration: checkpoint?.iteration ?? null };
    if (arm.endsWith("+agreement")) run.training = trainingPhases(readMetrics(join(runDir, "metrics.jsonl")));
    // θ₀ depends on the seed only (every arm of a seed starts there): measure it once per seed.
    if (!(`seed ${config.seed}` in report.atInitialisation)) {
      const initial = parts.model.init(splitSeed(config.seed).initRng);
      report.atInitialisation[`seed ${config.seed}`] = weightsOfFreshBatches(initial, parts, config, sources, noisy);
      disposeParams(initial);
    }
    run.atCheckpoint = checkpoint ? weightsOfFreshBatches(checkpoint.params, parts, config, sources, noisy) : null;
    report.runs[`${arm} ${seedDir}`] = run;
    if (checkpoint) disposeCheckpoint(checkpoint);
    console.error(`${arm} ${seedDir}: done${checkpoint ? "" : ` (no ${checkpointFile}: training phases and θ₀ only)`}`);
  }
}
console.log(JSON.stringify(report, null, 2));
if (jsonOut) writeFileSync(jsonOut, `${JSON.stringify(report, null, 2)}\n`);
