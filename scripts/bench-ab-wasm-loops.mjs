// Per-call CPU of the wasm kernels whose JavaScript loops moved into gemm.wat (issue 24, host time):
// ConcordMaxPoolRoute, ConcordMaxPoolGather and ConcordSgdStep at the Omniglot conv net's first-layer
// shapes, two builds of @concord/backend alternating in one process:
// `node scripts/bench-ab-wasm-loops.mjs <a-dist> [rounds]` (after `pnpm build`; <a-dist> as for
// scripts/bench-ab-backend-builds.mjs). Each round runs 100 calls per kernel and build, in
// alternating order; prints the median µs per call of each, and `--json <file>` writes them.
import { execFileSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { loadavg } from "node:os";
import { resolve } from "node:path";
import { pathToFileURL } from "node:url";
import * as tf from "@tensorflow/tfjs-core";
import "@tensorflow/tfjs-backend-wasm";
import { takeJsonOption } from "./ab-alternation.mjs";

const jsonOut = takeJsonOption();
const loadAtStart = loadavg();
const [distA, roundsArg = "20"] = process.argv.slice(2);
if (!distA) throw new Error("usage: node scripts/bench-ab-wasm-loops.mjs <a-dist> [rounds]");
const rounds = Number(roundsArg);
const builds = {
  A: await import(pathToFileURL(resolve(distA, "index.js")).href),
  B: await import(new URL("../packages/backend/dist/index.js", import.meta.url).href),
};
await builds.B.useBackend("wasm");
let installed = "B";
function use(label) {
  if (label === installed) return;
  builds[installed].uninstallConcord();
  builds[label].installConcord({});
  installed = label;
}

// A 5-way 1-shot task's first conv block: x [5, 28, 28, 64] pooled 2×2; a [3, 3, 64, 64] filter's SGD step.
const x = tf.randomNormal([5, 28, 28, 64]);
const dy = tf.randomNormal([5, 14, 14, 64]);
const param = tf.randomNormal([3, 3, 64, 64]);
const grad = tf.randomNormal([3, 3, 64, 64]);
const pool = { filterSize: 2, strides: 2, pad: "valid" };
const calls = {
  ConcordMaxPoolRoute: () => tf.engine().runKernel("ConcordMaxPoolRoute", { x, dy }, pool),
  ConcordMaxPoolGather: () => tf.engine().runKernel("ConcordMaxPoolGather", { x, g: x }, pool),
  ConcordSgdStep: () => tf.engine().runKernel("ConcordSgdStep", { param, grad }, { lr: 0.4 }),
};
const median = (list) => [...list].sort((a, b) => a - b)[list.length >> 1];
const results = {};
for (const [name, call] of Object.entries(calls)) {
  const microseconds = { A: [], B: [] };
  for (let round = 0; round < rounds; round++) {
    for (const label of round % 2 === 0 ? ["A", "B"] : ["B", "A"]) {
      use(label);
      for (let i = 0; i < 5; i++) call().dispose();
      const start = process.cpuUsage();
      for (let i = 0; i < 100; i++) call().dispose();
      const used = process.cpuUsage(start);
      microseconds[label].push((used.user + used.system) / 100);
    }
  }
  results[name] = { A: median(microseconds.A), B: median(microseconds.B) };
  console.log(`${name}: A (${distA}) ${results[name].A.toFixed(1)} µs, B (this build) ${results[name].B.toFixed(1)} µs per call`);
}
if (jsonOut) {
  const record = {
    date: new Date().toISOString(),
    commit: execFileSync("git", ["rev-parse", "--short", "HEAD"], { encoding: "utf8" }).trim(),
    loadAverageAtStart: loadAtStart,
    loadAverageAtEnd: loadavg(),
    script: "bench-ab-wasm-loops.mjs",
    A: distA,
    B: "this build",
    rounds,
    callsPerRound: 100,
    microsecondsPerCall: results,
  };
  writeFileSync(jsonOut, `${JSON.stringify(record, null, 2)}\n`);
}
