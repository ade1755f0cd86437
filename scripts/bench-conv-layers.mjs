// CPU time per call of the convolution kernels of the Omniglot conv net, layer by layer:
// `node scripts/bench-conv-layers.mjs [backend] [reps]` (after `pnpm build`; backend "native" or "wasm").
// For each layer's shape (5 images, 3×3 'same', 64 filters): Conv2D, Conv2DBackpropInput (the input
// gradient) and ConcordConv2DBackpropFilter (the filter gradient), the median CPU µs per call over
// `reps` calls in blocks of 20; with native, also the addon's parts of each call (im2col, sgemm).
import * as tf from "@tensorflow/tfjs-core";

const [backend = "native", repsArg = "200"] = process.argv.slice(2);
const reps = Number(repsArg);
const concord = await import(new URL("../packages/backend/dist/index.js", import.meta.url).href);
await concord.useBackend(backend);
tf.env().set("DEBUG", false);

const LAYERS = [
  { name: "layer 1 (28×28, Cin 1)", size: 28, cin: 1 },
  { name: "layer 2 (14×14, Cin 64)", size: 14, cin: 64 },
  { name: "layer 3 (7×7, Cin 64)", size: 7, cin: 64 },
  { name: "layer 4 (3×3, Cin 64)", size: 3, cin: 64 },
];
const BATCH = 5;
const COUT = 64;

/** Median CPU µs per call of fn over reps calls (blocks of 20, after 20 warm-up calls). */
function cpuMicros(fn) {
  for (let i = 0; i < 20; i++) fn();
  const samples = [];
  for (let done = 0; done < reps; done += 20) {
    const start = process.cpuUsage();
    for (let i = 0; i < 20; i++) fn();
    const used = process.cpuUsage(start);
    samples.push((used.user + used.system) / 20);
  }
  samples.sort((a, b) => a - b);
  return samples[Math.floor(samples.length / 2)];
}

const rows = [];
for (const { name, size, cin } of LAYERS) {
  const x = tf.randomNormal([BATCH, size, size, cin]);
  const w = tf.randomNormal([3, 3, cin, COUT]);
  const dy = tf.randomNormal([BATCH, size, size, COUT]);
  const forward = cpuMicros(() => tf.conv2d(x, w, 1, "same").dispose());
  const input = cpuMicros(() => tf.conv2dTranspose(dy, w, x.shape, 1, "same").dispose());
  const filter = cpuMicros(() => tf.engine().runKernel("ConcordConv2DBackpropFilter", { x, dy }, { filterShape: w.shape, pad: "same" }).dispose());
  const flops = 2 * BATCH * size * size * 9 * cin * COUT;
  rows.push({ name, forward, input, filter, mflop: flops / 1e6 });
  tf.dispose([x, w, dy]);
}
console.log(`${backend}, CPU µs per call (median of blocks of 20, ${reps} calls), threads ${process.env.CONCORD_NATIVE_THREADS ?? "default"}`);
console.log("layer                       MFLOP   Conv2D  BackpropInput  BackpropFilter");
for (const r of rows) {
  console.log(`${r.name.padEnd(26)} ${r.mflop.toFixed(1).padStart(6)} ${r.forward.toFixed(0).padStart(8)} ${r.input.toFixed(0).padStart(14)} ${r.filter.toFixed(0).padStart(15)}`);
}
console.log(`numTensors after: ${tf.memory().numTensors}`);
