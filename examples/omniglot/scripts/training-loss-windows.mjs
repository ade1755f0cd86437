// The training meta-batches' query loss after adaptation, averaged over windows of iterations, for
// run folders side by side: how a gap run's early training compares with the paper run's before any
// checkpoint exists to evaluate.
// Usage: node examples/omniglot/scripts/training-loss-windows.mjs --window 250 --until 1250 \
//          --out record.json <label>=<run-folder> [<label>=<run-folder> …]
import { readFileSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";

const { values: options, positionals } = parseArgs({
  allowPositionals: true,
  options: { window: { type: "string" }, until: { type: "string" }, out: { type: "string" } },
});
const window = Number(options.window);
const until = Number(options.until);
if (!Number.isInteger(window) || window < 1 || !Number.isInteger(until) || until < window || !options.out || positionals.length === 0) {
  console.error("usage: training-loss-windows.mjs --window <n> --until <n> --out <file.json> <label>=<run-folder> …");
  process.exit(2);
}

/** Mean queryLossAfter of iterations (start, start + window] for each window up to `until`. */
function windows(folder) {
  const file = join(folder, "metrics.jsonl");
  const losses = new Map();
  for (const line of readFileSync(file, "utf8").split("\n")) {
    if (!line.startsWith("{")) continue;
    const { iteration, queryLossAfter } = JSON.parse(line);
    if (iteration <= until && Number.isFinite(queryLossAfter)) losses.set(iteration, queryLossAfter);
  }
  const out = [];
  for (let start = 0; start < until; start += window) {
    const inWindow = [];
    for (let i = start + 1; i <= start + window; i++) if (losses.has(i)) inWindow.push(losses.get(i));
    if (inWindow.length !== window) throw new Error(`${file}: iterations ${start + 1}–${start + window} are not all logged (${inWindow.length} of ${window})`);
    out.push({ from: start + 1, to: start + window, meanQueryLossAfter: inWindow.reduce((a, b) => a + b, 0) / window });
  }
  return out;
}

const runs = {};
for (const argument of positionals) {
  const [label, folder] = argument.split("=");
  if (!label || !folder) throw new Error(`expected <label>=<run-folder>, got ${argument}`);
  runs[label] = { folder, windows: windows(folder) };
}
// Written whole or not at all: a stopped run of this script leaves any earlier record intact.
writeFileSync(`${options.out}.partial`, `${JSON.stringify({ window, until, runs }, null, 2)}\n`);
renameSync(`${options.out}.partial`, options.out);
for (const [label, { windows: list }] of Object.entries(runs)) {
  console.log(`${label}: ${list.map((w) => `${w.to} → ${w.meanQueryLossAfter.toFixed(3)}`).join(", ")}`);
}
