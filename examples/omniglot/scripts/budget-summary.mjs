#!/usr/bin/env node
// What runs trained under the same wall-clock budget reached, as one JSON record the documents can
// cite: for each run folder (config.json, metrics.jsonl, evaluation.json from `concord eval --json`),
// the iterations trained, the training wall time, the median seconds per iteration, and the held-out
// loss and accuracy after the last evaluated inner step (`concord paired` gives the paired difference).
// Usage: node examples/omniglot/scripts/budget-summary.mjs <run-dir> <run-dir>... --json out.json
import { existsSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { basename, join } from "node:path";
import { readMetrics } from "@concord/runner";

const args = process.argv.slice(2);
const jsonAt = args.indexOf("--json");
const jsonOut = jsonAt >= 0 ? args[jsonAt + 1] : undefined;
const dirs = args.filter((_, i) => i !== jsonAt && i !== jsonAt + 1);
if (dirs.length < 2 || !jsonOut) {
  console.error("usage: node examples/omniglot/scripts/budget-summary.mjs <run-dir> <run-dir>... --json out.json");
  process.exit(2);
}
for (const dir of dirs) {
  for (const file of ["metrics.jsonl", "evaluation.json"]) {
    if (!existsSync(join(dir, file))) {
      console.error(`budget-summary: expected ${file} in ${dir} (metrics from concord train, evaluation from concord eval --json)`);
      process.exit(2);
    }
  }
}

/** The middle value of a non-empty list (the mean of the two middle ones for an even length). */
function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

function summarise(dir) {
  const metrics = readMetrics(join(dir, "metrics.jsonl"));
  const evaluation = JSON.parse(readFileSync(join(dir, "evaluation.json"), "utf8"));
  const last = metrics.at(-1);
  const finalLoss = evaluation.loss.at(-1);
  const finalAccuracy = evaluation.accuracy.at(-1);
  return {
    iterations: last.iteration,
    trainingSeconds: last.wallTimeSeconds,
    medianIterationMs: 1000 * median(metrics.map((record) => record.iterationSeconds)),
    evaluatedIteration: evaluation.iteration,
    evaluationSteps: finalLoss.step,
    loss: { mean: finalLoss.mean, ci95: finalLoss.ci95 },
    accuracy: { mean: finalAccuracy.mean, ci95: finalAccuracy.ci95 },
  };
}

const record = { runs: Object.fromEntries(dirs.map((dir) => [basename(dir), summarise(dir)])) };
writeFileSync(`${jsonOut}.tmp`, `${JSON.stringify(record, null, 2)}\n`);
renameSync(`${jsonOut}.tmp`, jsonOut);
console.log(JSON.stringify(record, null, 2));
