// `node scripts/bench-batch-norm-ab.mjs <a.node> <b.node> [rounds] [threads]`: A/B microbenchmark of the addon's batchNorm + batchNormGrad on [3920, 64] (layer 1 of the Omniglot
// CNN, 5 images): CPU µs per forward+backward pair, alternating builds A and B in blocks.
import { createRequire } from "node:module";
import { resolve } from "node:path";
const require = createRequire(import.meta.url);
const [pathA, pathB, roundsArg = "10", threadsArg = "1"] = process.argv.slice(2);
if (!pathA || !pathB) throw new Error("usage: node scripts/bench-batch-norm-ab.mjs <a.node> <b.node> [rounds] [threads]");
const addons = { A: require(resolve(pathA)), B: require(resolve(pathB)) };
for (const addon of Object.values(addons)) addon.setThreads(Number(threadsArg));
const rows = 3920, channels = 64;
const buffer = new ArrayBuffer((rows * channels * 4 + channels * 4) * 4);
const f32 = new Float32Array(buffer);
for (let i = 0; i < f32.length; i++) f32[i] = Math.sin(i * 0.37) * 3;
const x = 0, dy = rows * channels * 4, dx = 2 * rows * channels * 4, out = 3 * rows * channels * 4, scale = 4 * rows * channels * 4, offset = scale + channels * 4, ds = offset + channels * 4, doff = ds + channels * 4;
const results = { A: [], B: [] };
for (let round = 0; round < Number(roundsArg); round++) {
  for (const label of round % 2 ? ["B", "A"] : ["A", "B"]) {
    const addon = addons[label];
    for (let i = 0; i < 20; i++) { addon.batchNorm(buffer, x, scale, offset, out, rows, channels, 1e-3, 1); addon.batchNormGrad(buffer, x, scale, offset, dy, dx, ds, doff, rows, channels, 1e-3, 1); }
    const start = process.cpuUsage();
    for (let i = 0; i < 200; i++) { addon.batchNorm(buffer, x, scale, offset, out, rows, channels, 1e-3, 1); addon.batchNormGrad(buffer, x, scale, offset, dy, dx, ds, doff, rows, channels, 1e-3, 1); }
    const cpu = process.cpuUsage(start);
    results[label].push((cpu.user + cpu.system) / 200);
  }
}
const median = (list) => [...list].sort((a, b) => a - b)[Math.floor(list.length / 2)];
console.log(`batchNorm+batchNormGrad [${rows},${channels}] CPU µs per pair, ${threadsArg} addon thread(s), ${roundsArg} alternating rounds of 200: A median ${median(results.A).toFixed(1)} (min ${Math.min(...results.A).toFixed(1)}), B median ${median(results.B).toFixed(1)} (min ${Math.min(...results.B).toFixed(1)})`);
