// CPU time per meta-iteration of one workload, without PyTorch or a fresh process per row:
// `node scripts/bench-cpu.mjs [workload] [backend] [execution] [iterations] [without]` (after `pnpm build`);
// `without`: Concord kernel replacements to leave out, comma-separated (an ablation, as `pnpm bench -- --ablation`).
// Prints the median and minimum process CPU ms (all threads) over the measured iterations after 20
// warm-up ones, and the kernels of one more iteration: a load-robust before/after measure.
import * as tf from "@tensorflow/tfjs-core";

const [workload = "sinusoid-maml2", backend = "wasm", execution = "per-task", iterationsArg = "60", withoutArg = ""] = process.argv.slice(2);
const iterations = Number(iterationsArg);
const without = withoutArg.split(",").filter((name) => name.length > 0);
process.argv[2] = JSON.stringify({ workload, backend, execution, iterations: 0, warmup: 0, profileOnly: true, without });
const { runIteration, lastIterationCpuMs } = await import("./bench-worker.mjs");

for (let i = 0; i < 20; i++) runIteration(i);
const cpu = [];
for (let i = 0; i < iterations; i++) {
  runIteration(20 + i);
  cpu.push(lastIterationCpuMs());
}
cpu.sort((a, b) => a - b);
const profile = await tf.profile(() => {
  runIteration(20 + iterations);
});
const median = cpu[Math.floor(cpu.length / 2)];
console.log(`${workload} ${backend} ${execution}${without.length > 0 ? ` without ${without.join(",")}` : ""}: CPU ms median ${median.toFixed(2)} min ${cpu[0].toFixed(2)} (${iterations} iterations), ${profile.kernels.length} kernels`);
