#!/usr/bin/env node
// Copies the figures the browser tests wrote (test-output/browser-results.json from browser.test.ts,
// test-output/few-shot-results.json from few-shot.test.ts) into the committed record
// results/figures.json, which the repository's documents take their browser figures from.
// Run after one `pnpm --filter @concord/example-browser test` in which neither file was skipped.
// Usage: node scripts/record-figures.mjs [--out results/figures.json]
import { mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const APP_DIR = join(dirname(fileURLToPath(import.meta.url)), "..");
const outArg = process.argv.indexOf("--out");
const out = outArg > 0 ? process.argv[outArg + 1] : join(APP_DIR, "results/figures.json");

/** A test's figures, refusing a file without the machine it was measured on or without figures. */
function figures(file, expectedKeys) {
  const path = join(APP_DIR, "test-output", file);
  let parsed;
  try {
    parsed = JSON.parse(readFileSync(path, "utf8"));
  } catch (error) {
    throw new Error(`${path}: ${error.message} (run the browser tests first)`);
  }
  const missing = ["machine", "loadAverageAtEnd", ...expectedKeys].filter((key) => !(key in parsed));
  if (missing.length > 0) throw new Error(`${path}: missing ${missing.join(", ")} (a test failed or was skipped?)`);
  return parsed;
}

const record = {
  command: "npx --yes pnpm@12.4.2 --filter @concord/example-browser test, then node examples/browser/scripts/record-figures.mjs",
  metaTrain: figures("browser-results.json", ["bundle", "metaGradientRelativeError", "metaGradientMs", "metaTrain", "metaTrainChosenSchemes", "msPerIteration"]),
  fewShot: figures("few-shot-results.json", ["bundle", "mouse2", "mouse5", "mouse10", "saveReload", "omniglot", "adapt20way5shot"]),
};
mkdirSync(dirname(out), { recursive: true });
// Write then rename: an interrupted run never leaves a half-written record.
writeFileSync(`${out}.tmp`, `${JSON.stringify(record, null, 2)}\n`);
renameSync(`${out}.tmp`, out);
console.log(`wrote ${out}`);
