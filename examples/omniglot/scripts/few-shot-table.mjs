// Writes the README's few-shot table from the committed evaluation records
// (results/protonet/few-shot-*.json, written by few-shot-eval.mjs), between the markers below.
// `--check` only compares (exit code 1 when the README differs); src/few-shot-readme.test.ts does too.
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";

export const BEGIN = "<!-- few-shot-table:begin (scripts/few-shot-table.mjs writes this from results/protonet) -->";
export const END = "<!-- few-shot-table:end -->";
const example = join(import.meta.dirname, "..");
const SETTINGS = ["5w1s", "5w5s", "20w1s", "20w5s"];
const PUBLISHED = { "5w1s": "98.8 / 98.7", "5w5s": "99.7 / 99.9", "20w1s": "96.0 / 95.8", "20w5s": "98.9 / 98.9" };

/** The table's markdown from the records in `dir`. */
export function renderTable(dir = join(example, "results/protonet")) {
  const summary = JSON.parse(readFileSync(join(dir, "few-shot-summary.json"), "utf8"));
  const rows = SETTINGS.map((setting) => {
    const record = JSON.parse(readFileSync(join(dir, `few-shot-${setting}.json`), "utf8"));
    const percent = (value) => (100 * value).toFixed(2);
    return `| ${record.setting} | ${record.taskCount} | ${record.queryShotsPerClass} | **${percent(record.accuracy)} ± ${percent(record.ci95)} %** | ${PUBLISHED[setting]} % | ${record.adaptLongestBlockMs.median.toFixed(0)} / ${record.adaptLongestBlockMs.max.toFixed(0)} ms |`;
  });
  const runner = JSON.parse(readFileSync(join(dir, "concord-eval-1000.json"), "utf8"));
  const runnerAccuracy = runner.accuracy[0];
  return [
    `Export: iteration ${summary.exportIteration}, backend ${summary.backend}; classifier inputs equal to the loader's pixels for ${summary.pixelCheck.imagesChecked - summary.pixelCheck.pixelMismatches} of ${summary.pixelCheck.imagesChecked} drawings checked.`,
    `Cross-check through the runner (\`concord eval\`, protoNet's own batched evaluation, the config's ${runner.taskCount} tasks of seed ${runner.evaluationSeed}, 5-way 1-shot with 5 queries per class): ${(100 * runnerAccuracy.mean).toFixed(2)} ± ${(100 * runnerAccuracy.ci95).toFixed(2)} %.`,
    "",
    "| setting | test tasks | queries per class | accuracy, one image at a time | published ProtoNets / MAML | adapt(): median / max event-loop gap |",
    "| --- | --- | --- | --- | --- | --- |",
    ...rows,
  ].join("\n");
}

/** `readme` with the table between the markers replaced by `table`. */
export function withTable(readme, table) {
  const start = readme.indexOf(BEGIN);
  const end = readme.indexOf(END);
  if (start < 0 || end < start) throw new Error(`README.md has no ${BEGIN} … ${END} markers`);
  return `${readme.slice(0, start + BEGIN.length)}\n${table}\n${readme.slice(end)}`;
}

if (process.argv[1] && import.meta.filename === process.argv[1]) {
  const path = join(example, "README.md");
  const readme = readFileSync(path, "utf8");
  const updated = withTable(readme, renderTable());
  if (process.argv.includes("--check")) {
    if (updated !== readme) {
      console.error("README.md's few-shot table differs from results/protonet: run node scripts/few-shot-table.mjs");
      process.exitCode = 1;
    }
  } else writeFileSync(path, updated);
}
