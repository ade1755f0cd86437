// End-to-end check of the CNN gradients at second order: the MAML meta-gradient of a tiny
// conv → batch norm (tf.moments) → relu → maxPool → conv → dense → cross-entropy network
// against central differences of the meta-objective along random directions. Every kernel the
// computation runs must have a registered Concord gradient.
import * as tf from "@tensorflow/tfjs-core";
import { expect, it } from "vitest";
import { createRng, stopGradient } from "@concord/core";
import { describeEachBackend, tensorGrowth } from "@concord/core/testing";
import { concordGradientKernels } from "./register.js";

const SHAPES: number[][] = [[3, 3, 1, 2], [2], [2], [2], [3, 3, 2, 2], [2, 3], [3]]; // W1 b1 γ β W2 Wh bh
const INNER_RATE = 0.5;
const rng = createRng(99);
const values = (n: number, scale: number) => Array.from({ length: n }, () => rng.normal() * scale);
const theta0 = SHAPES.map((s, i) => {
  const n = s.reduce((a, b) => a * b, 1);
  return i === 2 ? values(n, 0.1).map((v) => 1 + v) : values(n, 0.5);
});
const supportX = values(3 * 6 * 6, 1);
const queryX = values(3 * 6 * 6, 1);
const supportY = [0, 2, 1];
const queryY = [1, 0, 2];

/** Activation patterns (relu signs, max-pool winners) seen by forward passes, when recording. */
let patterns: number[][] | undefined;

function forward(p: tf.Tensor[], x: tf.Tensor): tf.Tensor {
  const [w1, b1, gamma, beta, w2, wh, bh] = p as [tf.Tensor4D, tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor4D, tf.Tensor, tf.Tensor];
  const z = tf.add(tf.conv2d(x as tf.Tensor4D, w1, 1, "same"), b1);
  const { mean, variance } = tf.moments(z, [0, 1, 2]);
  const normalized = tf.add(tf.mul(gamma, tf.mul(tf.sub(z, mean), tf.rsqrt(tf.add(variance, 1e-3)))), beta);
  const activated = tf.relu(normalized);
  if (patterns) {
    const windows = tf.reshape(tf.transpose(tf.reshape(activated, [3, 3, 2, 3, 2, 2]), [0, 1, 3, 5, 2, 4]), [3, 3, 3, 2, 4]);
    patterns.push(Array.from(tf.step(normalized).dataSync()), Array.from(tf.argMax(windows, -1).dataSync()));
  }
  const pooled = tf.maxPool(activated as tf.Tensor4D, 2, 2, "valid"); // [3, 3, 3, 2]
  const features = tf.reshape(tf.conv2d(pooled, w2, 1, "valid"), [3, 2]);
  return tf.add(tf.matMul(features, wh), bh);
}

function crossEntropy(logits: tf.Tensor, labels: number[]): tf.Scalar {
  const shift = stopGradient(tf.max(logits, 1, true));
  const logSumExp = tf.add(tf.log(tf.sum(tf.exp(tf.sub(logits, shift)), 1)), tf.squeeze(shift, [1]));
  const picked = tf.sum(tf.mul(logits, tf.cast(tf.oneHot(tf.tensor1d(labels, "int32"), 3), "float32")), 1);
  return tf.mean(tf.sub(logSumExp, picked));
}

function metaObjective(p: tf.Tensor[], order: 1 | 2): { loss: tf.Scalar; adapted: tf.Tensor[] } {
  const xs = tf.tensor4d(supportX, [3, 6, 6, 1]);
  const xq = tf.tensor4d(queryX, [3, 6, 6, 1]);
  const grads = tf.grads((...q: tf.Tensor[]) => crossEntropy(forward(q, xs), supportY))(p);
  const adapted = p.map((t, i) => tf.sub(t, tf.mul(order === 2 ? grads[i]! : stopGradient(grads[i]!), INNER_RATE)));
  return { loss: crossEntropy(forward(adapted, xq), queryY), adapted };
}

const params = (offset?: { direction: number[][]; h: number }) =>
  theta0.map((v, i) => tf.tensor(offset ? v.map((x, j) => x + offset.h * offset.direction[i]![j]!) : v, SHAPES[i]));

function metaGradient(order: 1 | 2): number[][] {
  return tf
    .tidy(() => tf.grads((...p: tf.Tensor[]) => metaObjective(p, order).loss)(params()))
    .map((g) => {
      const v = Array.from(g.dataSync());
      g.dispose();
      return v;
    });
}

/** M(θ + h·u) and the relu/max-pool patterns of its support and query forward passes. */
function metaValue(direction: number[][], h: number): { value: number; pattern: string } {
  patterns = [];
  try {
    const value = tf.tidy(() => metaObjective(params({ direction, h }), 2).loss.dataSync()[0]!);
    return { value, pattern: JSON.stringify(patterns) };
  } finally {
    patterns = undefined;
  }
}

const h = 2e-3;

/**
 * M is only piecewise smooth (the inner gradient jumps where a relu or max-pool winner switches),
 * so central differences are taken only along directions that cross no switch.
 */
function smoothDirections(count: number): number[][][] {
  const center = metaValue(
    theta0.map((v) => v.map(() => 0)),
    0,
  ).pattern;
  const directions: number[][][] = [];
  for (let attempt = 0; directions.length < count && attempt < 30; attempt++) {
    const u = theta0.map((v) => values(v.length, 1));
    if (metaValue(u, h).pattern === center && metaValue(u, -h).pattern === center) directions.push(u);
  }
  return directions;
}

describeEachBackend("second-order MAML meta-gradient of a small CNN", () => {
  const dot = (g: number[][], u: number[][]) => g.reduce((s, gi, i) => s + gi.reduce((t, x, j) => t + x * u[i]![j]!, 0), 0);

  it("directional derivatives match central differences of the meta-objective", () => {
    const second = metaGradient(2);
    const first = metaGradient(1);
    const directions = smoothDirections(3);
    expect(directions.length).toBe(3);
    for (const u of directions) {
      const numeric = (metaValue(u, h).value - metaValue(u, -h).value) / (2 * h);
      const analytic = dot(second, u);
      const firstOrder = dot(first, u);
      console.log(`d/dε M(θ+εu): finite difference ${numeric.toFixed(6)}, second order ${analytic.toFixed(6)}, first order ${firstOrder.toFixed(6)}`);
      expect(Math.abs(analytic - numeric)).toBeLessThan(2e-3 * Math.max(1, Math.abs(numeric)));
    }
    // The second-order terms matter here, so a first-order gradient would fail the check above.
    const gap = directions.map((u) => Math.abs(dot(second, u) - dot(first, u)));
    expect(Math.max(...gap)).toBeGreaterThan(0.05);
  });

  it("runs only kernels whose gradients Concord registers, and leaks nothing", async () => {
    const registered = new Set(concordGradientKernels);
    const profile = await tf.profile(() => {
      metaGradient(2);
      return [];
    });
    // Profiles name customGrad ops (stopGradient) by their scope, which is no kernel.
    const kernels = new Set(profile.kernels.map((k) => k.name).filter((name) => tf.getKernel(name, tf.getBackend()) !== undefined));
    expect(kernels.has("Conv2D") && kernels.has("MaxPool")).toBe(true);
    expect([...kernels].filter((k) => !registered.has(k))).toEqual([]);
    expect(tensorGrowth(() => void metaGradient(2), 2)).toBe(0);
  });
});
