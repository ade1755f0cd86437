// Same-process A/B of Concord's kernel replacements: `node scripts/bench-ab.mjs [workload] [backend]
// [execution] [rounds] [without]` (after `pnpm build`). Alternates blocks of 10 iterations with
// every replacement installed (B) and with the comma-separated `without` list left out (A), so
// both see the same machine load; prints the median and lower-quartile CPU ms per iteration of
// each, and the kernels of one profiled iteration of each.
import * as tf from "@tensorflow/tfjs-core";

const [workload = "sinusoid-maml2", backend = "wasm", execution = "per-task", roundsArg = "8", withoutArg = ""] = process.argv.slice(2);
const rounds = Number(roundsArg);
const without = withoutArg.split(",").filter((name) => name.length > 0);
process.argv[2] = JSON.stringify({ workload, backend, execution, iterations: 0, warmup: 0, profileOnly: true });
const { runIteration, lastIterationCpuMs } = await import("./bench-worker.mjs");
const concord = await import(new URL("../packages/backend/dist/index.js", import.meta.url).href);
const native = backend === "native" ? (await import(new URL("../packages/backend-native/dist/index.js", import.meta.url).href)).loadNativeKernels() : undefined;

function configure(skipKernels) {
  concord.uninstallConcord();
  concord.installConcord({ skipKernels, native });
}

let iteration = 0;
const cpu = { A: [], B: [] };
const kernels = {};
for (const [label, skip] of [["A", without], ["B", []]]) {
  configure(skip);
  for (let i = 0; i < 10; i++) runIteration(iteration++);
  kernels[label] = (await tf.profile(() => void runIteration(iteration++))).kernels.length;
}
for (let round = 0; round < rounds; round++) {
  for (const [label, skip] of round % 2 === 0 ? [["A", without], ["B", []]] : [["B", []], ["A", without]]) {
    configure(skip);
    runIteration(iteration++); // after a switch: warm the code paths again
    for (let i = 0; i < 10; i++) {
      runIteration(iteration++);
      cpu[label].push(lastIterationCpuMs());
    }
  }
}
const stat = (list) => {
  const sorted = [...list].sort((a, b) => a - b);
  return `median ${sorted[Math.floor(sorted.length / 2)].toFixed(2)} q1 ${sorted[Math.floor(sorted.length / 4)].toFixed(2)}`;
};
console.log(
  `${workload} ${backend} ${execution}: A (without ${without.join(",") || "nothing"}) ${stat(cpu.A)} ms, ${kernels.A} kernels; B (all) ${stat(cpu.B)} ms, ${kernels.B} kernels`,
);
