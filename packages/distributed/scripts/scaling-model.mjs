#!/usr/bin/env node
// Iteration time of `concord train --queue` against the number of workers, from measured inputs:
//   t(W) = serial + ceil(T / W) · task + bytes(W) / bandwidth + rounds · latency
// where the Redis host's network interface carries every byte twice (in and out). Two protocols:
//   per-task (what Concord does, bit-identical): θ to each worker, every task's θ'_i and G_i back;
//   three-round (Σ_j g_j → s_i = g_iᵀ Σ_j g_j → Σ_i w_i G_i): per worker sums instead of per-task vectors.
// Usage: node scaling-model.mjs --task-ms 40 --serial-ms 150 --params 112261 --task-bytes 32000 \
//          --tasks 32 --gbps 10 --latency-ms 0.3 [--vectors-per-task 2]
import { parseArgs } from "node:util";

const { values } = parseArgs({
  options: {
    "task-ms": { type: "string" },
    "serial-ms": { type: "string" },
    params: { type: "string" },
    "task-bytes": { type: "string" },
    tasks: { type: "string", default: "32" },
    gbps: { type: "string", default: "10" },
    "latency-ms": { type: "string", default: "0.3" },
    "vectors-per-task": { type: "string", default: "2" },
  },
});
const number = (name) => {
  const value = Number(values[name]);
  if (!Number.isFinite(value) || value < 0) throw new Error(`--${name}: expected a number, got ${values[name]}`);
  return value;
};
const taskMs = number("task-ms");
const serialMs = number("serial-ms");
const P = number("params");
const taskBytes = number("task-bytes");
const T = number("tasks");
const bytesPerMs = (number("gbps") * 1e9) / 8 / 1000;
const latencyMs = number("latency-ms");
const vectors = number("vectors-per-task");
const vector = 4 * P;

/** Bytes through the Redis host's interface per iteration (each byte goes in, then out). */
// θ in once and out to each busy worker; every task in and out once; every task's vectors in and out once.
const perTaskBytes = (W) => vector + Math.min(W, T) * vector + 2 * T * taskBytes + 2 * T * vectors * vector;
const threeRoundBytes = (W) => {
  const w = Math.min(W, T);
  // θ in once, out to each worker; tasks in and out; round 1: w partial sums Σ g in and out, the total
  // in once and out to each worker; round 2: T scalars s_i and T weights; round 3: w sums Σ w_i G_i in and out.
  return vector + w * vector + 2 * T * taskBytes + 2 * w * vector + vector + w * vector + 4 * 4 * T + 2 * w * vector;
};
const rows = [];
for (const W of [1, 2, 4, 8, 16, 32, 64]) {
  const compute = Math.ceil(T / W) * taskMs;
  const perTask = serialMs + compute + perTaskBytes(W) / bytesPerMs + 2 * latencyMs;
  const threeRound = serialMs + compute + threeRoundBytes(W) / bytesPerMs + 6 * latencyMs;
  rows.push({ W, compute, perTaskMB: perTaskBytes(W) / 1e6, perTask, threeRoundMB: threeRoundBytes(W) / 1e6, threeRound });
}
const base = rows[0].perTask;
console.log(`T=${T} tasks, P=${P} parameters (${(vector / 1024).toFixed(0)} KiB per vector), task ${taskMs} ms, serial ${serialMs} ms, ${values.gbps} Gbit/s, ${latencyMs} ms per round`);
console.log("| workers | compute ms | per-task: MB through Redis | ms / iteration | speed-up | three-round: MB | ms / iteration | speed-up |");
console.log("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
for (const r of rows) {
  console.log(
    `| ${r.W} | ${r.compute.toFixed(0)} | ${r.perTaskMB.toFixed(1)} | ${r.perTask.toFixed(0)} | ${(base / r.perTask).toFixed(2)} | ${r.threeRoundMB.toFixed(1)} | ${r.threeRound.toFixed(0)} | ${(base / r.threeRound).toFixed(2)} |`,
  );
}
