// Same-process A/B of two builds of @concord/backend: `node scripts/bench-ab-backend-builds.mjs <a-dist>
// [workload] [backend] [execution] [rounds]` (after `pnpm build`). A is another build's dist folder,
// copied inside packages/backend/ so that it resolves the same tfjs-core and @concord/core, e.g.
//   git stash && pnpm --filter @concord/backend build && cp -r packages/backend/dist packages/backend/.ab-a-dist && git stash pop && pnpm --filter @concord/backend build
// B is this checkout's packages/backend/dist. For changes no `skipKernels` name turns off (a kernel's
// own code path, an engine patch's internals): each build's installConcord() is installed in turn
// (the other's uninstallConcord() first) in alternating blocks of 10 iterations, as
// scripts/bench-ab.mjs does for kernel replacements (the loop both share: ab-alternation.mjs).
// Prints the median and lower-quartile CPU ms per iteration of each, and the kernels of one profiled
// iteration of each; `--json <file>` also writes them as a record (ab-alternation.mjs's writeAbRecord).
import { loadavg } from "node:os";
import { resolve } from "node:path";
import { pathToFileURL } from "node:url";
import * as tf from "@tensorflow/tfjs-core";
import { alternateAB, takeJsonOption, writeAbRecord } from "./ab-alternation.mjs";

const jsonOut = takeJsonOption();
const loadAtStart = loadavg();

const [distA, workload = "omniglot-maml1", backend = "wasm", execution = "per-task", roundsArg = "4"] = process.argv.slice(2);
if (!distA) throw new Error("usage: node scripts/bench-ab-backend-builds.mjs <a-dist> [workload] [backend] [execution] [rounds]");
const rounds = Number(roundsArg);
process.argv[2] = JSON.stringify({ workload, backend, execution, iterations: 0, warmup: 0, profileOnly: true });
const { runIteration, lastIterationCpuMs } = await import("./bench-worker.mjs");
const builds = {
  A: await import(pathToFileURL(resolve(distA, "index.js")).href),
  B: await import(new URL("../packages/backend/dist/index.js", import.meta.url).href),
};
if (builds.A === builds.B) throw new Error(`${distA} is this checkout's build`);
const native = backend === "native" ? (await import(new URL("../packages/backend-native/dist/index.js", import.meta.url).href)).loadNativeKernels() : undefined;

// bench-worker.mjs installed B (useBackend).
let installed = "B";
function configure(label) {
  if (label === installed) return;
  builds[installed].uninstallConcord();
  builds[label].installConcord({ native });
  // @concord/algorithms refuses to differentiate unless the gradient set registered is its own
  // @concord/backend's (B's config objects): A runs with B's gradient configs registered over its
  // own, so compare builds whose gradients do not differ. A's uninstallConcord() removes them.
  if (label === "A") for (const config of builds.B.concordGradientConfigs) tf.registerGradient(config);
  installed = label;
}

const { A, B } = await alternateAB({ configure, runIteration, lastIterationCpuMs, rounds });
console.log(`${workload} ${backend} ${execution}: A (${distA}) CPU ${A.cpu} ms, wall ${A.wall} ms, ${A.kernels} kernels; B (this build) CPU ${B.cpu} ms, wall ${B.wall} ms, ${B.kernels} kernels`);
if (jsonOut) {
  const setup = { script: "bench-ab-backend-builds.mjs", workload, backend, execution, rounds, iterationsPerVariant: rounds * 10 };
  writeAbRecord(jsonOut, { loadAtStart, setup, A: { ...A, label: distA }, B: { ...B, label: "this build" } });
}
