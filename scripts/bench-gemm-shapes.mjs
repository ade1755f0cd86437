// The GEMMs of one batched first-order Omniglot meta-iteration on the native addon alone:
// `node scripts/bench-gemm-shapes.mjs [threads] [--json <file>]` (after `pnpm build` with the addon).
// For each conv layer of the 5-way 1-shot conv net (5 images per set, 64 filters, a chunk of 8 tasks
// as the batched rows run it) the three products of convNet.forwardBatched and its gradient, as
// the addon's sgemm receives them: forward patches·W, the patch gradient dZ·Wᵀ (not for layer 1,
// whose input needs none) and the filter gradient patchesᵀ·dZ. Each is timed warm (30 calls after
// 5), and the iteration's GEMM time is 2 passes (support, query) × 4 chunks of their sum: what the
// batched row's BatchMatMul time would be if nothing but the products ran.
import { writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { loadavg } from "node:os";
import { parseArgs } from "node:util";

const { values: options, positionals } = parseArgs({ allowPositionals: true, options: { json: { type: "string" } } });
const threads = Number(positionals[0] ?? 2);
const addon = createRequire(import.meta.url)("../packages/backend-native/build/concord_native.node");
addon.setThreads(threads);

const TASKS_PER_CHUNK = 8;
const CHUNKS = 4;
const PASSES = 2;
const IMAGES = 5;
const FILTERS = 64;
const LAYERS = [
  { name: "layer 1", size: 28, inChannels: 1 },
  { name: "layer 2", size: 14, inChannels: 64 },
  { name: "layer 3", size: 7, inChannels: 64 },
  { name: "layer 4", size: 3, inChannels: 64 },
];

const memory = new WebAssembly.Memory({ initial: 4000 }); // 256 MB: the largest operands with room
const heap = new Float32Array(memory.buffer);
for (let i = 0; i < 30e6; i++) heap[i] = (i % 97) / 97 - 0.5;

/** Warm ms per call and GFLOP/s of one batched product C_i = op(A_i)·op(B_i). */
function time(batch, m, n, k, transposeA, transposeB) {
  const a = 0;
  const b = batch * m * k * 4 + 4096;
  const c = b + batch * k * n * 4 + 4096;
  const run = () => addon.sgemm(memory.buffer, batch, m, n, k, transposeA, transposeB, a, m * k * 4, b, k * n * 4, c, m * n * 4);
  for (let i = 0; i < 5; i++) run();
  const calls = 30;
  const start = performance.now();
  for (let i = 0; i < calls; i++) run();
  const ms = (performance.now() - start) / calls;
  return { ms, gflops: (2 * batch * m * n * k) / ms / 1e6 };
}

const products = [];
for (const layer of LAYERS) {
  const rows = IMAGES * layer.size * layer.size;
  const depth = 9 * layer.inChannels;
  const shapes = [
    { product: "forward", m: rows, n: FILTERS, k: depth, transposeA: false, transposeB: false },
    ...(layer.inChannels > 1 ? [{ product: "patch gradient", m: rows, n: depth, k: FILTERS, transposeA: false, transposeB: true }] : []),
    { product: "filter gradient", m: depth, n: FILTERS, k: rows, transposeA: true, transposeB: false },
  ];
  for (const shape of shapes) {
    const measured = time(TASKS_PER_CHUNK, shape.m, shape.n, shape.k, shape.transposeA, shape.transposeB);
    products.push({ layer: layer.name, ...shape, batch: TASKS_PER_CHUNK, ...measured });
    console.log(
      `${layer.name} ${shape.product.padEnd(16)} batch ${TASKS_PER_CHUNK} m ${String(shape.m).padStart(5)} n ${String(shape.n).padStart(4)} k ${String(shape.k).padStart(5)}: ${measured.ms.toFixed(3)} ms, ${measured.gflops.toFixed(1)} GFLOP/s`,
    );
  }
}
const iterationMs = PASSES * CHUNKS * products.reduce((sum, p) => sum + p.ms, 0);
const gflop = (PASSES * CHUNKS * products.reduce((sum, p) => sum + 2 * p.batch * p.m * p.n * p.k, 0)) / 1e9;
console.log(`threads ${threads}: the iteration's conv GEMMs alone ${iterationMs.toFixed(1)} ms, ${gflop.toFixed(2)} GFLOP, ${(gflop / (iterationMs / 1000)).toFixed(1)} GFLOP/s`);
if (options.json) {
  const record = { date: new Date().toISOString(), loadAverage: loadavg(), threads, blas: addon.blasConfig(), tasksPerChunk: TASKS_PER_CHUNK, chunks: CHUNKS, passes: PASSES, products, iterationMs, gflop, gflops: gflop / (iterationMs / 1000) };
  writeFileSync(options.json, `${JSON.stringify(record, null, 2)}\n`);
}
