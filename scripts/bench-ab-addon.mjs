// Same-process A/B of two builds of the native addon: `node scripts/bench-ab-addon.mjs <a.node>
// [workload] [execution] [rounds] [without]` (after `pnpm build`). A is the given build (e.g. main's source
// compiled to /tmp, or this checkout's own build/concord_native.node), B this checkout's build;
// `without`: members of the NativeKernels contract A leaves out (e.g. sgdStep,addBias or
// batchNormMoments: one change of a build measured alone); both are loaded into one process
// and installed in turn (installConcord({ native })) in alternating blocks of 10 iterations, as
// scripts/bench-ab.mjs does for kernel replacements (the loop both share: ab-alternation.mjs). An addon without an optional function (e.g.
// maxPoolRoute) leaves that kernel on its wasm path. Prints the median and lower-quartile CPU ms per
// iteration of each, and the kernels of one profiled iteration of each; `--json <file>` also writes
// them as a record (ab-alternation.mjs's writeAbRecord).
import { createRequire } from "node:module";
import { loadavg } from "node:os";
import { resolve } from "node:path";
import { alternateAB, takeJsonOption, writeAbRecord } from "./ab-alternation.mjs";

const jsonOut = takeJsonOption();
const loadAtStart = loadavg();

const [addonA, workload = "omniglot-maml1", execution = "per-task", roundsArg = "8", withoutArg = ""] = process.argv.slice(2);
const without = withoutArg.split(",").filter((name) => name.length > 0);
if (!addonA) throw new Error("usage: node scripts/bench-ab-addon.mjs <a.node> [workload] [execution] [rounds]");
const rounds = Number(roundsArg);
process.argv[2] = JSON.stringify({ workload, backend: "native", execution, iterations: 0, warmup: 0, profileOnly: true });
const { runIteration, lastIterationCpuMs } = await import("./bench-worker.mjs");
const concord = await import(new URL("../packages/backend/dist/index.js", import.meta.url).href);
const b = (await import(new URL("../packages/backend-native/dist/index.js", import.meta.url).href)).loadNativeKernels();
const loadedA = createRequire(import.meta.url)(resolve(addonA));
loadedA.setThreads(b.threads());
// Only the members of the NativeKernels contract (functions, and flags such as batchNormMoments or
// maxPoolForward) that build A has.
const a = Object.fromEntries(
  Object.entries(concord.NATIVE_KERNEL_MEMBERS)
    .filter(([name, kind]) => (kind === "function" ? typeof loadedA[name] === "function" : loadedA[name] === true) && !without.includes(name))
    .map(([name]) => [name, loadedA[name]]),
);
a.description = `A: ${addonA}${without.length > 0 ? ` without ${without.join(",")}` : ""}`;
const variants = { A: a, B: b };

function configure(label) {
  concord.uninstallConcord();
  concord.installConcord({ native: variants[label] });
}

const { A, B } = await alternateAB({ configure, runIteration, lastIterationCpuMs, rounds });
console.log(
  `${workload} native ${execution}, threads ${b.threads()}: A (${a.description.slice(3)}) CPU ${A.cpu} ms, wall ${A.wall} ms, ${A.kernels} kernels; ` +
    `B (this build) CPU ${B.cpu} ms, wall ${B.wall} ms, ${B.kernels} kernels`,
);
if (jsonOut) {
  const setup = { script: "bench-ab-addon.mjs", workload, backend: "native", execution, rounds, iterationsPerVariant: rounds * 10, threads: b.threads() };
  writeAbRecord(jsonOut, { loadAtStart, setup, A: { ...A, label: a.description.slice(3) }, B: { ...B, label: "this build" } });
}
