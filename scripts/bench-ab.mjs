// Same-process A/B of Concord's kernel replacements: `node scripts/bench-ab.mjs [workload] [backend]
// [execution] [rounds] [without]` (after `pnpm build`). Alternates blocks of 10 iterations with
// every replacement installed (B) and with the comma-separated `without` list left out (A), so
// both see the same machine load; prints the median and lower-quartile CPU ms per iteration of
// each, and the kernels of one profiled iteration of each. `--json <file>` also writes them as a
// record (date, commit, load average, native threads) for the docs' numbers to cite.
import { loadavg } from "node:os";
import { alternateAB, takeJsonOption, writeAbRecord } from "./ab-alternation.mjs";

const jsonOut = takeJsonOption();
const loadAtStart = loadavg();

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

const { A, B } = await alternateAB({ configure: (label) => configure(label === "A" ? without : []), runIteration, lastIterationCpuMs, rounds });
console.log(`${workload} ${backend} ${execution}: A (without ${without.join(",") || "nothing"}) CPU ${A.cpu} ms, wall ${A.wall} ms, ${A.kernels} kernels; B (all) CPU ${B.cpu} ms, wall ${B.wall} ms, ${B.kernels} kernels`);
if (jsonOut) {
  const setup = { script: "bench-ab.mjs", workload, backend, execution, rounds, iterationsPerVariant: rounds * 10 };
  writeAbRecord(jsonOut, { loadAtStart, setup, A: { ...A, label: `without ${without.join(",") || "nothing"}` }, B: { ...B, label: "every replacement" } });
}
