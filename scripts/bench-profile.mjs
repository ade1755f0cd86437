// Kernel breakdown of one workload's meta-iteration: `node scripts/bench-profile.mjs [workload] [backend] [execution] [without]`
// (after `pnpm build`). Prints kernels per iteration by name, with their summed time (tf.profile's
// kernelTimeMs: wall time for the synchronous cpu/wasm backends), and the total time of the step.
// `without`: comma-separated fast kernels to leave out (as `pnpm bench -- --without`), e.g. batch-norm.
// `--json <file>` also writes the breakdown as a record (the machine's load average included).
import { writeFileSync } from "node:fs";
import { loadavg } from "node:os";
import * as tf from "@tensorflow/tfjs-core";

const jsonAt = process.argv.indexOf("--json");
const jsonOut = jsonAt > 0 ? process.argv.splice(jsonAt, 2)[1] : undefined;
const [workload = "sinusoid-maml2", backend = "wasm", execution = "batched", without = ""] = process.argv.slice(2);
const skipped = without.split(",").filter((name) => name.length > 0);
process.argv[2] = JSON.stringify({ workload, backend, execution, iterations: 0, warmup: 0, profileOnly: true, without: skipped });
const { runIteration } = await import("./bench-worker.mjs");

for (let i = 0; i < Number(process.env.BENCH_PROFILE_WARMUP ?? 20); i++) runIteration(i);
const start = performance.now();
const profile = await tf.profile(() => {
  runIteration(20);
});
const total = performance.now() - start;
const byName = new Map();
for (const kernel of profile.kernels) {
  const entry = byName.get(kernel.name) ?? { count: 0, ms: 0 };
  entry.count++;
  entry.ms += typeof kernel.kernelTimeMs === "number" ? kernel.kernelTimeMs : 0;
  byName.set(kernel.name, entry);
}
const sorted = [...byName.entries()].sort((a, b) => b[1].ms - a[1].ms);
const kernelMs = sorted.reduce((sum, [, e]) => sum + e.ms, 0);
console.log(`${workload} ${backend} ${execution}${skipped.length > 0 ? ` without ${skipped.join(",")}` : ""}: ${profile.kernels.length} kernels, kernel time ${kernelMs.toFixed(2)} ms, profiled iteration ${total.toFixed(2)} ms`);
for (const [name, e] of sorted) console.log(`${name.padEnd(24)} ${String(e.count).padStart(6)} ${e.ms.toFixed(3).padStart(9)} ms`);
if (jsonOut) {
  const record = {
    date: new Date().toISOString(),
    loadAverage: loadavg(),
    workload,
    backend,
    execution,
    without: skipped,
    kernels: profile.kernels.length,
    kernelMs,
    iterationMs: total,
    byName: sorted.map(([name, e]) => ({ name, count: e.count, ms: e.ms })),
  };
  writeFileSync(jsonOut, `${JSON.stringify(record, null, 2)}\n`);
}
