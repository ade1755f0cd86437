// Plain-Node smoke check (no vitest, no bundler): imports the BUILT @concord/backend from dist, the
// way a user's `node app.mjs` would, calls its setup call and checks that Concord's gradients are
// registered and correct to second order. Run `pnpm exec tsc -b` first. Prints one JSON line;
// exits 1 on any mismatch.
//
// f(x) = Σ tanh(x)²:  f'(x) = 2t(1 − t²),  f''(x) = 2(1 − t²)(1 − 3t²)  with t = tanh(x).
import * as tf from "@tensorflow/tfjs-core";

// tfjs-core's CommonJS build, as plain Node loads it, registers no gradients of its own.
const registeredBeforeConcord = tf.getGradient("Tanh") !== undefined;
const { useBackend, isConcordInstalled } = await import("@concord/backend");
const registeredOnImport = tf.getGradient("Tanh") !== undefined;

await useBackend("cpu");
const x = [0.3, -0.7, 1.2];
const f = (t) => tf.sum(tf.square(tf.tanh(t)));
const first = tf.grad(f);
const second = tf.grad((t) => tf.sum(first(t)));
const input = tf.tensor1d(x);
const result = {
  backend: tf.getBackend(),
  registeredBeforeConcord,
  registeredOnImport,
  registered: isConcordInstalled() && tf.getGradient("Tanh") !== undefined,
  first: Array.from(first(input).dataSync()),
  second: Array.from(second(input).dataSync()),
  expectedFirst: x.map((v) => 2 * Math.tanh(v) * (1 - Math.tanh(v) ** 2)),
  expectedSecond: x.map((v) => 2 * (1 - Math.tanh(v) ** 2) * (1 - 3 * Math.tanh(v) ** 2)),
};
const close = (a, b) => a.length === b.length && a.every((v, i) => Math.abs(v - b[i]) <= 1e-5 * Math.max(1, Math.abs(b[i])));
result.ok = result.registered && close(result.first, result.expectedFirst) && close(result.second, result.expectedSecond);
console.log(JSON.stringify(result));
process.exit(result.ok ? 0 : 1);
