// CPU time per kernel of one workload's meta-iteration, by kernel name and by name + input shapes:
// `node scripts/bench-kernel-cpu.mjs [workload] [backend] [execution] [iterations] [without] [addon]`
// (after `pnpm build`); `addon`: another build of the native addon (a .node file, e.g. main's) to
// install instead of this checkout's, for a before/after profile in the same checkout. tf.profile's kernelTimeMs is wall time, meaningless on a loaded machine; this wraps
// every registered wasm kernel with process.cpuUsage() (about 1 µs a call, included) and averages
// over `iterations` after 10 warm-up ones. Wasm-based backends only (wasm, native).
import * as tf from "@tensorflow/tfjs-core";
const [workload = "omniglot-maml1", backend = "native", execution = "per-task", itersArg = "3", without = "", addon = ""] = process.argv.slice(2);
process.argv[2] = JSON.stringify({ workload, backend, execution, iterations: 0, warmup: 0, profileOnly: true, without: without.split(",").filter(Boolean) });
const { runIteration, lastIterationCpuMs } = await import("./bench-worker.mjs");
if (addon) {
  const { createRequire } = await import("node:module");
  const concord = await import(new URL("../packages/backend/dist/index.js", import.meta.url).href);
  const loaded = createRequire(import.meta.url)((await import("node:path")).resolve(addon));
  const current = (await import(new URL("../packages/backend-native/dist/index.js", import.meta.url).href)).loadNativeKernels();
  loaded.setThreads(current.threads());
  // Only what that build has (an older one lacks the newer optional kernels: they take their wasm paths).
  const kernels = Object.fromEntries(
    Object.entries(concord.NATIVE_KERNEL_MEMBERS)
      .filter(([name, kind]) => (kind === "function" ? typeof loaded[name] === "function" : loaded[name] === true))
      .map(([name]) => [name, loaded[name]]),
  );
  concord.uninstallConcord();
  concord.installConcord({ skipKernels: without.split(",").filter(Boolean), native: { ...kernels, description: addon } });
  console.log(`native kernels of ${addon}: ${Object.keys(kernels).join(", ")}`);
}
const by = new Map();
let on = false;
for (const config of tf.getKernelsForBackend("wasm")) {
  const inner = config.kernelFunc;
  const kernelFunc = (args) => {
    if (!on) return inner(args);
    const t = process.cpuUsage();
    const out = inner(args);
    const u = process.cpuUsage(t);
    const key = `${config.kernelName} ${JSON.stringify(Object.values(args.inputs).map((i) => i.shape))}`;
    const e = by.get(key) ?? { count: 0, us: 0 };
    e.count++;
    e.us += u.user + u.system;
    by.set(key, e);
    return out;
  };
  tf.unregisterKernel(config.kernelName, "wasm");
  tf.registerKernel({ ...config, kernelFunc });
}
for (let i = 0; i < 10; i++) runIteration(i);
const iters = Number(itersArg);
on = true;
let total = 0;
for (let r = 0; r < iters; r++) {
  runIteration(20 + r);
  total += lastIterationCpuMs();
}
on = false;
const sorted = [...by.entries()].sort((a, b) => b[1].us - a[1].us);
const kernelUs = sorted.reduce((s, [, e]) => s + e.us, 0);
const calls = sorted.reduce((s, [, e]) => s + e.count, 0);
console.log(`CPU per iteration ${(total / iters).toFixed(1)} ms (with wrapper), in kernels ${(kernelUs / iters / 1000).toFixed(1)} ms, ${calls / iters} kernels`);
const byName = new Map();
for (const [key, e] of sorted) {
  const name = key.split(" ")[0];
  const f = byName.get(name) ?? { count: 0, us: 0 };
  f.count += e.count;
  f.us += e.us;
  byName.set(name, f);
}
for (const [n, e] of [...byName.entries()].sort((a, b) => b[1].us - a[1].us).slice(0, 16)) console.log(`${(e.us / iters / 1000).toFixed(2).padStart(8)} ms ${String(e.count / iters).padStart(5)}  ${n}`);
console.log("--- by shape");
for (const [key, e] of sorted.slice(0, 30)) console.log(`${(e.us / iters / 1000).toFixed(2).padStart(8)} ms ${String(e.count / iters).padStart(5)} ${(e.us / e.count).toFixed(0).padStart(6)} µs  ${key.slice(0, 110)}`);
