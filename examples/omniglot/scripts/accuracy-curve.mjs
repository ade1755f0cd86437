#!/usr/bin/env node
// Held-out accuracy against meta-iterations: for each arm of a `concord compare` output folder, the
// accuracy after the last inner step of every kept checkpoint's evaluation (`evaluation-<N>.json`,
// from compare or `concord eval --json`), as one JSON record the documents can cite and one SVG chart
// with the CI bands and, optionally, a published figure as a dashed rule.
// Usage: node examples/omniglot/scripts/accuracy-curve.mjs <compare-dir> --out <stem>
//          [--reference-label "paper: 98.3%" --reference-accuracy 0.983]
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { checkpointAccuracyChart } from "@concord/report";
import { renderSvg } from "@concord/report/node";
import { writeFileAtomicSync } from "@concord/runner";

const { values: options, positionals } = parseArgs({
  allowPositionals: true,
  options: { out: { type: "string" }, "reference-label": { type: "string" }, "reference-accuracy": { type: "string" } },
});
const [folder] = positionals;
if (positionals.length !== 1 || !options.out) {
  console.error('usage: node examples/omniglot/scripts/accuracy-curve.mjs <compare-dir> --out <stem> [--reference-label "…" --reference-accuracy 0.983]');
  process.exit(2);
}
const referenceAccuracy = options["reference-accuracy"] === undefined ? undefined : Number(options["reference-accuracy"]);
if (referenceAccuracy !== undefined && !(referenceAccuracy > 0 && referenceAccuracy <= 1 && options["reference-label"])) {
  console.error("accuracy-curve: --reference-accuracy expects a fraction in (0, 1] together with --reference-label");
  process.exit(2);
}

const EVALUATION = /^evaluation-(\d+)\.json$/;

/** Every run folder (<arm>/seed-<k>) of the comparison, with its checkpoints' accuracy after the last inner step. */
function readSeries() {
  const series = [];
  for (const arm of readdirSync(folder, { withFileTypes: true }).filter((entry) => entry.isDirectory() && entry.name.includes("+"))) {
    const [algorithm, weighting] = arm.name.split("+");
    const seeds = readdirSync(join(folder, arm.name), { withFileTypes: true }).filter((entry) => entry.isDirectory() && /^seed-\d+$/.test(entry.name));
    for (const seed of seeds) {
      const dir = join(folder, arm.name, seed.name);
      const points = readdirSync(dir)
        .filter((name) => EVALUATION.test(name))
        .map((name) => {
          const evaluation = JSON.parse(readFileSync(join(dir, name), "utf8"));
          const last = evaluation.accuracy?.at(-1);
          if (!last || evaluation.iteration !== Number(EVALUATION.exec(name)[1])) {
            throw new Error(`${join(dir, name)}: expected an evaluation with accuracy at iteration ${EVALUATION.exec(name)[1]}`);
          }
          return { iteration: evaluation.iteration, step: last.step, taskCount: evaluation.taskCount, mean: last.mean, ci95: last.ci95 };
        })
        .sort((a, b) => a.iteration - b.iteration);
      if (points.length > 0) series.push({ name: seeds.length > 1 ? `${arm.name} ${seed.name}` : arm.name, algorithm, weighting, points });
    }
  }
  return series;
}

const series = readSeries();
if (series.length === 0) {
  console.error(`accuracy-curve: no <arm>/seed-<k>/evaluation-<iteration>.json under ${folder}`);
  process.exit(2);
}
const first = series[0].points[0];
const reference = referenceAccuracy === undefined ? undefined : { label: options["reference-label"], accuracy: referenceAccuracy };
const chart = checkpointAccuracyChart(series, { taskCount: first.taskCount, innerSteps: first.step, ...(reference ? { reference } : {}) });

// Written whole (temp file, fsync, rename): a half-written record or chart never replaces a good one.
writeFileAtomicSync(`${options.out}.json`, [`${JSON.stringify({ source: folder, ...(reference ? { reference } : {}), series }, null, 2)}\n`]);
writeFileAtomicSync(`${options.out}.svg`, [await renderSvg(chart.spec, "accuracy")]);
for (const arm of series) {
  console.log(`${arm.name}: ${arm.points.map((p) => `${p.iteration} → ${(100 * p.mean).toFixed(2)} ± ${(100 * p.ci95).toFixed(2)}%`).join(", ")}`);
}
console.log(`wrote ${options.out}.json and ${options.out}.svg`);
