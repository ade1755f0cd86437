// `node scripts/bench-cross-entropy-ab.mjs [backend]` (after `pnpm build`; cpu or wasm).
// CPU per call of the Omniglot per-task loss work alone: softmaxCrossEntropy().loss on [5, 5] logits
// (logits = features · W, features [5, 64]) and its gradient with respect to W, first order
// (tf.grad) and second order (the gradient of Σ (∇W)²), with the cross-entropy kernels (B) and
// without them (A), alternating blocks in one process.
import * as tf from "@tensorflow/tfjs-core";
import "@tensorflow/tfjs-backend-cpu";
import "@tensorflow/tfjs-backend-wasm";
const packages = (path) => new URL(`../packages/${path}`, import.meta.url).href;
const concord = await import(packages("backend/dist/index.js"));
const { softmaxCrossEntropy } = await import(packages("models/dist/index.js"));
const backend = process.argv[2] ?? "wasm";
await tf.setBackend(backend);
await tf.ready();
const objective = softmaxCrossEntropy();
const features = tf.randomNormal([5, 64], 0, 1, "float32", 1);
const w = tf.randomNormal([64, 5], 0, 0.1, "float32", 2);
const y = tf.tensor1d([0, 1, 2, 3, 4], "int32");
const loss = (v) => objective.loss(tf.matMul(features, v), y);
const first = () => tf.tidy(() => void tf.grad(loss)(w).dataSync());
const second = () => tf.tidy(() => void tf.grad((v) => tf.sum(tf.square(tf.grad(loss)(v))))(w).dataSync());
const configure = (arm) => {
  concord.uninstallConcord();
  concord.installConcord({ skipKernels: arm === "A" ? ["cross-entropy"] : [] });
};
const cpuPerCall = (f, n) => {
  const t = process.cpuUsage();
  for (let i = 0; i < n; i++) f();
  const u = process.cpuUsage(t);
  return (u.user + u.system) / n;
};
const kernels = async (f) => (await tf.profile(f)).kernels.length;
const results = { A: { first: [], second: [] }, B: { first: [], second: [] } };
for (let round = 0; round < 8; round++) {
  for (const arm of round % 2 === 0 ? ["A", "B"] : ["B", "A"]) {
    configure(arm);
    cpuPerCall(first, 200);
    cpuPerCall(second, 100);
    results[arm].first.push(cpuPerCall(first, 1000));
    results[arm].second.push(cpuPerCall(second, 500));
  }
}
const median = (list) => [...list].sort((a, b) => a - b)[Math.floor(list.length / 2)].toFixed(1);
for (const arm of ["A", "B"]) {
  configure(arm);
  console.log(
    `${backend} ${arm === "A" ? "A (without cross-entropy)" : "B (all)"}: first order ${median(results[arm].first)} µs CPU per call (${await kernels(first)} kernels), second order ${median(results[arm].second)} µs (${await kernels(second)} kernels)`,
  );
}
