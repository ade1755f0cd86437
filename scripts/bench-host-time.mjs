// Where a meta-iteration's time goes outside the kernels' own compute, by sampling:
// `node scripts/bench-host-time.mjs [workload] [backend] [execution] [iterations] [--json <file>]`
// (after `pnpm build`). Runs 5 warm-up iterations, then `iterations` (default 20) under V8's sampling
// profiler (node:inspector, 200 µs interval) and ranks the main thread's self time inside the timed
// part of each iteration (the algorithm step and the outer update, as bench-worker.mjs times them;
// task sampling and disposal are left out) by category and by function:
//   kernel compute   the native addon's calls (the `native*` functions of the kernels' native.js,
//                    which call the addon synchronously) and wasm code (XNNPACK, gemm.wat);
//   host             everything else: tfjs-core (engine, tape, scopes, ops' checks), tfjs-backend-wasm's
//                    JavaScript (its data maps, and kernels written in JavaScript such as Concat, whose
//                    time is a memory copy), Concord's engine patches, Concord's kernel wrappers and
//                    gradient functions, and the models, algorithms, optimizers and core packages.
// Unlike tf.profile (bench-profile.mjs), this adds no bookkeeping per kernel and runs Concord's lean
// engine paths (tf.profile sends every kernel through tfjs's own runKernelFunc), so the host share is
// the one timed iterations have. The garbage collector's samples belong to no stack; they are given
// for the whole sampled run. Only the main thread is sampled: the addon's worker threads are not, so
// set CONCORD_NATIVE_THREADS=1 to see all of the native compute. Kernel counts come from one more
// iteration under tf.profile.
import { execFileSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { Session } from "node:inspector/promises";
import { loadavg } from "node:os";
import * as tf from "@tensorflow/tfjs-core";
import { takeJsonOption } from "./ab-alternation.mjs";

const jsonOut = takeJsonOption();
const [workload = "omniglot-maml1", backend = "native", execution = "batched", iterationsArg = "20"] = process.argv.slice(2);
const iterations = Number(iterationsArg);
process.argv[2] = JSON.stringify({ workload, backend, execution, iterations: 0, warmup: 0, profileOnly: true });
const { runIteration, lastIterationCpuMs } = await import("./bench-worker.mjs");

for (let i = 0; i < 5; i++) runIteration(i);
const session = new Session();
session.connect();
await session.post("Profiler.enable");
await session.post("Profiler.setSamplingInterval", { interval: 200 });
await session.post("Profiler.start");
const cpuMs = [];
for (let i = 0; i < iterations; i++) {
  runIteration(5 + i);
  cpuMs.push(lastIterationCpuMs());
}
const { profile } = await session.post("Profiler.stop");
session.disconnect();
const kernels = (await tf.profile(() => void runIteration(5 + iterations))).kernels.length;

const nodes = new Map(profile.nodes.map((node) => [node.id, node]));
const parentOf = new Map();
for (const node of profile.nodes) for (const child of node.children ?? []) parentOf.set(child, node.id);
const selfUs = new Map();
for (let i = 0; i < profile.samples.length; i++) selfUs.set(profile.samples[i], (selfUs.get(profile.samples[i]) ?? 0) + (profile.timeDeltas[i] ?? 0));

/** Whether a sample's stack is inside the timed part: the frame right below runIteration is the step or the outer update. */
function timed(id) {
  let below;
  for (let at = id; at !== undefined; at = parentOf.get(at)) {
    const node = nodes.get(at);
    if (node.callFrame.functionName === "runIteration") return below === "step" || below === "apply";
    below = node.callFrame.functionName;
  }
  return false;
}

function place(frame) {
  return frame.url.replace(/^.*\/node_modules\/(?:\.pnpm\/[^/]+\/node_modules\/)?/, "").replace(/^.*\/packages\//, "packages/");
}

const isNativeWrapper = (frame) => frame !== undefined && /^native[A-Z]/.test(frame.functionName) && frame.url.includes("/kernels/") && frame.url.endsWith("/native.js");

/** The categories, by key (the records' `categories[key=…]`). */
const CATEGORIES = {
  native: "kernel compute: native addon calls",
  wasm: "kernel compute: wasm",
  "tfjs-core": "host: tfjs-core (engine, tape, scopes, ops)",
  "tfjs-backend-wasm": "host: tfjs-backend-wasm JavaScript",
  "engine-patches": "host: Concord engine patches",
  "concord-kernels": "host: Concord kernel wrappers and gradients",
  packages: "host: models, algorithms, optimizers, core",
  other: "host: V8 builtins and other",
};
const isHost = (key) => key !== "native" && key !== "wasm";

/** A sample's category key from its own frame and its caller's (the addon's functions are frames without a script, under a native* wrapper). */
function category(frame, caller) {
  const url = frame.url;
  if (url.startsWith("wasm://")) return "wasm";
  if (isNativeWrapper(frame) || (url === "" && isNativeWrapper(caller))) return "native";
  if (url.includes("/tfjs-backend-wasm/dist/")) return "tfjs-backend-wasm";
  if (url.includes("/tfjs-core/dist/")) return "tfjs-core";
  if (url.includes("/engine-patches/")) return "engine-patches";
  if (url.includes("/packages/backend/dist/")) return "concord-kernels";
  if (url.includes("/packages/")) return "packages";
  return "other";
}

const byCategory = new Map();
const byFunction = new Map();
let gcUs = 0;
let sampledUs = 0;
for (const [id, us] of selfUs) {
  const frame = nodes.get(id).callFrame;
  sampledUs += us;
  if (frame.functionName === "(garbage collector)") gcUs += us;
  if (!timed(id)) continue;
  const name = category(frame, nodes.get(parentOf.get(id))?.callFrame);
  byCategory.set(name, (byCategory.get(name) ?? 0) + us);
  const key = `${frame.functionName || "(anonymous)"} ${place(frame)}:${frame.lineNumber + 1}`;
  const entry = byFunction.get(key) ?? { category: name, us: 0 };
  entry.us += us;
  byFunction.set(key, entry);
}

const perIteration = (us) => us / 1000 / iterations;
const round = (ms) => Math.round(ms * 100) / 100;
const categories = [...byCategory].sort((a, b) => b[1] - a[1]).map(([key, us]) => ({ key, label: CATEGORIES[key], ms: round(perIteration(us)) }));
const timedMs = categories.reduce((sum, c) => sum + c.ms, 0);
const hostMs = categories.filter((c) => isHost(c.key)).reduce((sum, c) => sum + c.ms, 0);
const hostFunctions = [...byFunction]
  .filter(([, entry]) => isHost(entry.category))
  .sort((a, b) => b[1].us - a[1].us)
  .slice(0, 40)
  .map(([name, entry]) => ({ name, category: entry.category, ms: round(perIteration(entry.us)) }));
const sortedCpu = [...cpuMs].sort((a, b) => a - b);
const medianCpuMs = sortedCpu[Math.floor(sortedCpu.length / 2)];

console.log(`${workload} ${backend} ${execution}: ${kernels} kernels; median CPU ${medianCpuMs.toFixed(1)} ms per iteration (all threads)`);
console.log(`sampled main thread, timed part: ${timedMs.toFixed(1)} ms per iteration, host ${hostMs.toFixed(1)} ms (${((100 * hostMs) / timedMs).toFixed(1)} %, ${((1000 * hostMs) / kernels).toFixed(1)} µs per kernel)`);
for (const c of categories) console.log(`${c.ms.toFixed(2).padStart(9)} ms  ${c.label}`);
console.log(`garbage collector over the whole sampled run: ${perIteration(gcUs).toFixed(2)} ms per iteration (of ${perIteration(sampledUs).toFixed(1)} sampled)`);
console.log("host functions by self time:");
for (const f of hostFunctions.slice(0, 25)) console.log(`${f.ms.toFixed(2).padStart(9)} ms  ${f.name}`);

if (jsonOut) {
  const record = {
    date: new Date().toISOString(),
    commit: execFileSync("git", ["rev-parse", "--short", "HEAD"], { encoding: "utf8" }).trim(),
    loadAverage: loadavg(),
    nativeThreads: process.env.CONCORD_NATIVE_THREADS ?? null,
    script: "bench-host-time.mjs",
    workload,
    backend,
    execution,
    iterations,
    samplingIntervalUs: 200,
    kernels,
    medianCpuMs: round(medianCpuMs),
    timedMs: round(timedMs),
    hostMs: round(hostMs),
    hostUsPerKernel: round((1000 * hostMs) / kernels),
    gcMsOverRun: round(perIteration(gcUs)),
    categories,
    hostFunctions,
  };
  writeFileSync(jsonOut, `${JSON.stringify(record, null, 2)}\n`);
}
