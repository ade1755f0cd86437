// End-to-end check of the whole chain at second order: the MAML meta-gradient of a tiny MLP
// (1-4-4-1, tanh then relu, MSE, one inner SGD step) against central differences of the
// meta-objective computed entirely in float64 JavaScript.
import * as tf from "@tensorflow/tfjs-core";
import { expect, it } from "vitest";
import { createRng } from "@concord/core";
import { describeEachBackend, finiteDifference, relativeError, tensorGrowth } from "@concord/core/testing";

const SIZES = [1, 4, 4, 1] as const;
const SHAPES: number[][] = [[1, 4], [4], [4, 4], [4], [4, 1], [1]]; // W1 b1 W2 b2 W3 b3
const INNER_RATE = 0.4;
const K = 6;

const rng = createRng(2024);
const theta0 = Float64Array.from(SHAPES.flatMap((s) => Array.from({ length: s.reduce((a, b) => a * b, 1) }, () => rng.normal() * 0.8)));
const support = { x: Array.from({ length: K }, () => rng.uniform(-2, 2)), y: [] as number[] };
const query = { x: Array.from({ length: K }, () => rng.uniform(-2, 2)), y: [] as number[] };
support.y = support.x.map((x) => Math.sin(x + 0.5));
query.y = query.x.map((x) => Math.sin(x + 0.5));

/** Splits a flat float64 parameter vector into W1 b1 W2 b2 W3 b3 views (row-major). */
function unpack(theta: Float64Array): Float64Array[] {
  let offset = 0;
  return SHAPES.map((s) => {
    const n = s.reduce((a, b) => a * b, 1);
    const part = theta.subarray(offset, offset + n);
    offset += n;
    return part;
  });
}

/** Float64 MSE loss of the MLP on a batch and, by hand-written backprop, its gradient. */
function lossAndGradient(theta: Float64Array, batch: { x: number[]; y: number[] }): { loss: number; grad: Float64Array } {
  const [w1, b1, w2, b2, w3, b3] = unpack(theta) as [Float64Array, Float64Array, Float64Array, Float64Array, Float64Array, Float64Array];
  const grad = new Float64Array(theta.length);
  const [gw1, gb1, gw2, gb2, gw3, gb3] = unpack(grad) as [Float64Array, Float64Array, Float64Array, Float64Array, Float64Array, Float64Array];
  const h = SIZES[1];
  let loss = 0;
  batch.x.forEach((x, k) => {
    const a1 = Array.from({ length: h }, (_, j) => Math.tanh(x * w1[j]! + b1[j]!));
    const z2 = Array.from({ length: h }, (_, j) => a1.reduce((s, a, i) => s + a * w2[i * h + j]!, b2[j]!));
    const a2 = z2.map((z) => Math.max(z, 0));
    const out = a2.reduce((s, a, i) => s + a * w3[i]!, b3[0]!);
    const err = out - batch.y[k]!;
    loss += (err * err) / K;
    const dOut = (2 * err) / K;
    gb3[0]! += dOut;
    const dz2 = a2.map((_, i) => (z2[i]! > 0 ? dOut * w3[i]! : 0));
    a2.forEach((a, i) => {
      gw3[i]! += a * dOut;
    });
    const dz1 = a1.map((a, i) => dz2.reduce((s, d, j) => s + d * w2[i * h + j]!, 0) * (1 - a * a));
    dz2.forEach((d, j) => {
      gb2[j]! += d;
      a1.forEach((a, i) => {
        gw2[i * h + j]! += a * d;
      });
    });
    dz1.forEach((d, j) => {
      gb1[j]! += d;
      gw1[j]! += x * d;
    });
  });
  return { loss, grad };
}

/** The MAML meta-objective in float64: L_query(θ − α ∇L_support(θ)). */
function metaObjective(theta: Float64Array): number {
  const { grad } = lossAndGradient(theta, support);
  const adapted = theta.map((t, i) => t - INNER_RATE * grad[i]!);
  return lossAndGradient(adapted, query).loss;
}

function forward(params: tf.Tensor[], x: tf.Tensor): tf.Tensor {
  const [w1, b1, w2, b2, w3, b3] = params as [tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor];
  const h1 = tf.tanh(tf.add(tf.matMul(x, w1), b1));
  const h2 = tf.relu(tf.add(tf.matMul(h1, w2), b2));
  return tf.add(tf.matMul(h2, w3), b3);
}

const mse = (pred: tf.Tensor, y: tf.Tensor): tf.Scalar => tf.mean(tf.squaredDifference(pred, y));

function tensorsOf(theta: Float64Array): tf.Tensor[] {
  return unpack(theta).map((part, i) => tf.tensor(Float32Array.from(part), SHAPES[i]));
}

/** tf meta-gradient: second order differentiates through the inner step, first order does not. */
function metaGradient(order: 1 | 2): Float64Array {
  const flat = tf.tidy(() => {
    const xs = tf.tensor2d(support.x, [K, 1]);
    const ys = tf.tensor2d(support.y, [K, 1]);
    const xq = tf.tensor2d(query.x, [K, 1]);
    const yq = tf.tensor2d(query.y, [K, 1]);
    const adapt = (params: tf.Tensor[]) => {
      const grads = tf.grads((...p: tf.Tensor[]) => mse(forward(p, xs), ys))(params);
      return params.map((p, i) => tf.sub(p, tf.mul(grads[i]!, INNER_RATE)));
    };
    const params = tensorsOf(theta0);
    const grads =
      order === 2
        ? tf.grads((...p: tf.Tensor[]) => mse(forward(adapt(p), xq), yq))(params)
        : tf.grads((...p: tf.Tensor[]) => mse(forward(p, xq), yq))(adapt(params));
    return tf.concat(grads.map((g) => tf.reshape(g, [-1])));
  });
  const values = Float64Array.from(flat.dataSync());
  flat.dispose();
  return values;
}

it("the float64 reference backprop matches central differences of the float64 loss", () => {
  const { grad } = lossAndGradient(theta0, support);
  const numeric = finiteDifference((t) => lossAndGradient(t, support).loss, theta0, 1e-6);
  expect(relativeError(grad, numeric)).toBeLessThan(1e-7);
});

describeEachBackend("second-order MAML meta-gradient of a 1-4-4-1 MLP", () => {
  const reference = finiteDifference(metaObjective, theta0, 1e-6);

  it("matches central differences of the float64 meta-objective", () => {
    const error = relativeError(metaGradient(2), reference);
    console.log(`second-order meta-gradient relative error vs float64 FD: ${error.toExponential(2)}`);
    expect(error).toBeLessThan(1e-4);
  });

  it("differs measurably from the first-order approximation (so the check can fail)", () => {
    const error = relativeError(metaGradient(1), reference);
    console.log(`first-order meta-gradient relative error vs float64 FD: ${error.toExponential(2)}`);
    expect(error).toBeGreaterThan(0.05);
  });

  it("leaves no tensors behind", () => {
    expect(tensorGrowth(() => void metaGradient(2), 3)).toBe(0);
  });
});
