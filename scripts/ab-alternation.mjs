// The timing loop the same-process A/B scripts share (bench-ab.mjs, bench-ab-addon.mjs): A and B
// take turns in blocks of 10 iterations, in alternating order each round, so both see the same
// machine load; one profiled iteration of each counts its kernels.
import { execFileSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { loadavg } from "node:os";
import * as tf from "@tensorflow/tfjs-core";

/** Takes `--json <file>` out of process.argv (so positional arguments stay in place); the file or undefined. */
export function takeJsonOption() {
  const at = process.argv.indexOf("--json");
  return at > 0 ? process.argv.splice(at, 2)[1] : undefined;
}

/**
 * Writes an A/B as a record for the docs to cite: date, commit, the load average at start and end,
 * the native threads, what was compared (`setup`), and each variant's median and lower-quartile
 * CPU and wall ms per iteration and kernels per iteration.
 */
export function writeAbRecord(file, { loadAtStart, setup, A, B }) {
  const commit = execFileSync("git", ["rev-parse", "--short", "HEAD"], { encoding: "utf8" }).trim();
  const variant = (v) => ({ label: v.label, cpuMs: v.cpuMs, wallMs: v.wallMs, kernels: v.kernels });
  const record = {
    date: new Date().toISOString(),
    commit,
    loadAverageAtStart: loadAtStart,
    loadAverageAtEnd: loadavg(),
    nativeThreads: process.env.CONCORD_NATIVE_THREADS ?? null,
    ...setup,
    A: variant(A),
    B: variant(B),
  };
  writeFileSync(file, `${JSON.stringify(record, null, 2)}\n`);
}

/**
 * `configure(label)` installs variant "A" or "B"; `runIteration(i)` runs one meta-iteration and
 * returns its wall ms, `lastIterationCpuMs()` reads its CPU time (all threads). Returns each
 * variant's CPU and wall ms per iteration as "median … q1 …" and its kernel count.
 */
export async function alternateAB({ configure, runIteration, lastIterationCpuMs, rounds }) {
  let iteration = 0;
  const cpu = { A: [], B: [] };
  const wall = { A: [], B: [] };
  const kernels = {};
  for (const label of ["A", "B"]) {
    configure(label);
    for (let i = 0; i < 10; i++) runIteration(iteration++);
    kernels[label] = (await tf.profile(() => void runIteration(iteration++))).kernels.length;
  }
  for (let round = 0; round < rounds; round++) {
    for (const label of round % 2 === 0 ? ["A", "B"] : ["B", "A"]) {
      configure(label);
      runIteration(iteration++); // after a switch: warm the code paths again
      for (let i = 0; i < 10; i++) {
        wall[label].push(runIteration(iteration++));
        cpu[label].push(lastIterationCpuMs());
      }
    }
  }
  const summary = (label) => ({
    cpu: quartiles(cpu[label]),
    wall: quartiles(wall[label]),
    kernels: kernels[label],
    // The same figures as numbers, for records (bench-ab.mjs --json).
    cpuMs: { median: quartile(cpu[label], 2), q1: quartile(cpu[label], 4) },
    wallMs: { median: quartile(wall[label], 2), q1: quartile(wall[label], 4) },
  });
  return { A: summary("A"), B: summary("B") };
}

/** The element at 1/part of the sorted list: part 2 the median, 4 the lower quartile. */
function quartile(list, part) {
  const sorted = [...list].sort((x, y) => x - y);
  return sorted[Math.floor(sorted.length / part)];
}

function quartiles(list) {
  return `median ${quartile(list, 2).toFixed(2)} q1 ${quartile(list, 4).toFixed(2)}`;
}
