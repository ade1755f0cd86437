#!/usr/bin/env node
// What a `concord compare sinusoid-meta-sgd …` folder learned, as one JSON record:
// - the learned inner rates (Meta-SGD's `lr/<name>` parameters) of every run's final checkpoint: how
//   many, mean, min, max and the share of negative ones, per run and over all runs of an arm;
// - every arm's held-out loss after 0…S inner steps (S = --steps, default 10), pooled over its seeds
//   exactly as `compare` pools them (the same 600 tasks per seed), with the count of tasks whose loss is
//   not finite: the preset evaluates after the 1 step it trains with, and this shows what more steps do.
// The step-1 figures must equal the folder's results.json (the same runs, the same tasks): the script
// checks that before it writes anything.
// Usage: node scripts/meta-sgd-summary.mjs <compare-out-dir> [--steps S] [--json out.json]
import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { combineEvaluations } from "@concord/algorithms";
import { useBackend } from "@concord/backend";
import { checkpointConfig, createParts, createRegistry, disposeCheckpoint, evaluateOnHeldOut, loadCheckpoint } from "@concord/runner";

/** Meta-SGD stores the rate of parameter `name` as the parameter `lr/<name>` (@concord/optimizers' META_SGD_RATE_PREFIX). */
const RATE_PREFIX = "lr/";

const [dir, ...rest] = process.argv.slice(2);
const option = (name) => (rest.includes(name) ? rest[rest.indexOf(name) + 1] : undefined);
if (!dir || !existsSync(join(dir, "results.json"))) {
  console.error("usage: node scripts/meta-sgd-summary.mjs <compare-out-dir> [--steps S] [--json out.json]");
  process.exit(2);
}
const steps = Number(option("--steps") ?? 10);
const jsonOut = option("--json");
const results = JSON.parse(readFileSync(join(dir, "results.json"), "utf8"));
// The engine the runs were evaluated on, so the pooled losses are the same numbers as results.json's.
const backend = await useBackend(results.backend);

/** Count, mean, min, max and negative share of a list of rates. */
function rateSummary(values) {
  let sum = 0;
  let min = Number.POSITIVE_INFINITY;
  let max = Number.NEGATIVE_INFINITY;
  let negative = 0;
  for (const value of values) {
    sum += value;
    min = Math.min(min, value);
    max = Math.max(max, value);
    if (value < 0) negative++;
  }
  return { count: values.length, mean: sum / values.length, min, max, negativeShare: negative / values.length };
}

/** Per step: the pooled mean ± ci95 (null once a task's loss is not finite), how many tasks' losses are not finite, the median. */
function stepStatistics(evaluation) {
  return evaluation.perTaskLoss.map((losses, step) => {
    const nonFinite = losses.filter((loss) => !Number.isFinite(loss)).length;
    const { mean, ci95 } = evaluation.loss[step];
    return { step, mean: nonFinite === 0 ? mean : null, ci95: nonFinite === 0 ? ci95 : null, nonFinite, median: median(losses) };
  });
}

/** The median, counting a loss that is not finite (a diverged task) as +∞; null when the median itself is. */
function median(values) {
  const sorted = values.map((value) => (Number.isFinite(value) ? value : Number.POSITIVE_INFINITY)).sort((a, b) => a - b);
  const middle = sorted[Math.floor(sorted.length / 2)];
  return Number.isFinite(middle) ? middle : null;
}

const registry = createRegistry();
const arms = {};
for (const arm of results.arms) {
  const runs = {};
  const allRates = [];
  const evaluations = [];
  for (const seed of arm.seeds) {
    const path = join(dir, arm.name, `seed-${seed}`, "checkpoint.ckpt");
    const checkpoint = loadCheckpoint(path);
    try {
      const config = checkpointConfig(checkpoint, path);
      const rates = Object.entries(checkpoint.params)
        .filter(([name]) => name.startsWith(RATE_PREFIX))
        .flatMap(([, tensor]) => Array.from(tensor.dataSync()));
      if (rates.length === 0) throw new Error(`${path}: no '${RATE_PREFIX}' parameters; is this a Meta-SGD run?`);
      allRates.push(...rates);
      runs[`seed-${seed}`] = { iteration: checkpoint.iteration, rates: rateSummary(rates) };
      const parts = await createParts(config, registry);
      evaluations.push(evaluateOnHeldOut(checkpoint.params, parts, config, { maxInnerSteps: steps }));
    } finally {
      disposeCheckpoint(checkpoint);
    }
  }
  const pooled = combineEvaluations(evaluations);
  const recorded = arm.evaluation.loss[1];
  if (pooled.loss[1].mean !== recorded.mean || pooled.loss[1].ci95 !== recorded.ci95) {
    throw new Error(`${arm.name}: step 1 pooled ${pooled.loss[1].mean} ± ${pooled.loss[1].ci95}, results.json says ${recorded.mean} ± ${recorded.ci95}`);
  }
  arms[arm.name] = { seeds: arm.seeds, taskCount: pooled.taskCount, rates: rateSummary(allRates), runs, loss: stepStatistics(pooled) };
}

const report = { command: `node examples/sinusoid/scripts/meta-sgd-summary.mjs ${process.argv.slice(2).join(" ")}`, preset: results.preset, iterations: results.iterations, backend, evaluatedAt: new Date().toISOString(), steps, arms };
console.log(JSON.stringify(report, null, 2));
if (jsonOut) writeFileSync(jsonOut, `${JSON.stringify(report, null, 2)}\n`);
