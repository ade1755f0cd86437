// MAML's Omniglot network as convNet options: stride-2 convolutions with the last map averaged
// (downsample "strided"), batch norm without a scale (batchNormScale false), a N(0, 1) head
// (headInit "normal"). Checked against tf.conv2d's own stride-2 'same' convolution, an independent
// float64 implementation and float64 central differences (first and second order).
import * as tf from "@tensorflow/tfjs-core";
import { createRng, flattenParams } from "@concord/core";
import { describeEachBackend, expectConcordError, finiteDifference, relativeError, tensorGrowth } from "@concord/core/testing";
import { beforeAll, describe, expect, it } from "vitest";
import { convNet, everyOtherPixel } from "./conv-net.js";
import { referenceConvNet, referenceForward } from "./testing/reference-conv-net.js";
import { randomBatch, randomParams } from "./testing/random-conv-net.js";

beforeAll(async () => {
  await tf.setBackend("cpu");
});

const mamlOmniglot = { downsample: "strided", batchNormScale: false, headInit: "normal" } as const;
// 7 × 7 input: an odd map (7 → 4) and then an even one (4 → 2), so both of TensorFlow's 'SAME' offsets are used.
const small = { ways: 3, inputShape: [7, 7, 1] as [number, number, number], filters: 4, blocks: 2, ...mamlOmniglot };

describe("convNet with MAML's Omniglot options: architecture", () => {
  it("has MAML's Omniglot layout: β only, 28 → 14 → 7 → 4 → 2 averaged to 64 features", () => {
    const model = convNet({ ways: 5, ...mamlOmniglot });
    expect(model.downsample).toBe("strided");
    expect(model.batchNormScale).toBe(false);
    expect(model.featureSize).toBe(64);
    expect(model.parameterNames).toEqual([
      ...[0, 1, 2, 3].flatMap((b) => [`block${b}/conv/weight`, `block${b}/conv/bias`, `block${b}/bn/offset`]),
      "head/weight",
      "head/bias",
    ]);
    const params = model.init(createRng(0));
    const x = tf.zeros([2, 28, 28, 1]);
    expect(model.forward(params, x).shape).toEqual([2, 5]);
    const shapes: number[][] = [];
    let hidden: tf.Tensor = x;
    for (let b = 0; b < 4; b++) {
      const z = model.blockPreactivation(params, hidden, b);
      shapes.push(z.shape.slice(1, 3));
      const { mean, variance } = tf.moments(z, [0, 1, 2]);
      hidden = model.blockOutput(params, z, b, { mean, variance });
    }
    expect(shapes).toEqual([
      [14, 14],
      [7, 7],
      [4, 4],
      [2, 2],
    ]);
    expect(hidden.shape).toEqual([2, 1, 1, 64]);
    tf.dispose(Object.values(params));
  });

  it("draws the head from N(0, 1) with headInit normal, and keeps the other parameters' init", () => {
    const normal = convNet({ ways: 5, ...mamlOmniglot }).init(createRng(3));
    const glorot = convNet({ ways: 5, downsample: "strided" }).init(createRng(3));
    const head = Array.from(normal["head/weight"]!.dataSync());
    const mean = head.reduce((s, v) => s + v, 0) / head.length;
    const sd = Math.sqrt(head.reduce((s, v) => s + (v - mean) ** 2, 0) / head.length);
    // 320 draws: the sample sd of N(0, 1) lies in [0.85, 1.15] with probability > 0.99; Glorot's bound is √(6/69) ≈ 0.29.
    expect(sd).toBeGreaterThan(0.85);
    expect(sd).toBeLessThan(1.15);
    expect(Math.max(...glorot["head/weight"]!.dataSync().map(Math.abs))).toBeLessThan(0.3);
    expect(Array.from(normal["block0/conv/weight"]!.dataSync())).toEqual(Array.from(glorot["block0/conv/weight"]!.dataSync()));
    tf.dispose([...Object.values(normal), ...Object.values(glorot)]);
  });

  it("rejects bad options, and batched execution of strided convolutions, with a ConcordError naming the field", () => {
    expectConcordError(() => convNet({ ways: 5, downsample: "avg" as never }), "downsample", /"max-pool" or "strided"/);
    expectConcordError(() => convNet({ ways: 5, batchNormScale: "no" as never }), "batchNormScale", /true or false/);
    expectConcordError(() => convNet({ ways: 5, headInit: "he" as never }), "headInit", /"glorot" or "normal"/);
    const model = convNet(small);
    const params = model.init(createRng(1));
    const stacked = Object.fromEntries(Object.entries(params).map(([name, value]) => [name, tf.stack([value])]));
    expectConcordError(() => model.forwardBatched(stacked, tf.zeros([1, 2, 7, 7, 1])), "execution", /task by task/);
    // A scale-free model refuses a scale it does not have.
    expectConcordError(
      () => model.forward({ ...params, "block0/bn/scale": tf.ones([4]) }, tf.zeros([2, 7, 7, 1])),
      "params",
      /unexpected \[block0\/bn\/scale\]/,
    );
    tf.dispose([...Object.values(params), ...Object.values(stacked)]);
  });
});

describeEachBackend("convNet with MAML's Omniglot options: numerics", () => {
  it("samples a stride-1 'same' convolution into tf.conv2d's stride-2 'same' one (even and odd sizes)", () => {
    for (const [height, width] of [
      [28, 28],
      [7, 7],
      [4, 5],
      [1, 3],
    ] as const) {
      const x = tf.randomNormal([2, height, width, 3], 0, 1, "float32", 5) as tf.Tensor4D;
      const w = tf.randomNormal([3, 3, 3, 4], 0, 1, "float32", 6) as tf.Tensor4D;
      const sampled = everyOtherPixel(tf.conv2d(x, w, 1, "same"));
      const direct = tf.conv2d(x, w, 2, "same");
      expect(sampled.shape).toEqual(direct.shape);
      expect(relativeError(sampled.dataSync(), direct.dataSync())).toBeLessThan(1e-5);
      tf.dispose([x, w, sampled, direct]);
    }
  });

  it("matches an independent float64 implementation (strided, β only)", () => {
    const model = convNet(small);
    const params = randomParams(model, 6);
    const theta = Float64Array.from(flattenParams(params).dataSync());
    const batch = randomBatch(6, 49, 7);
    const x = tf.tensor4d(Float32Array.from(batch.x), [6, 7, 7, 1]);
    const logits = model.forward(params, x);
    expect(relativeError(logits.dataSync(), referenceForward(referenceConvNet(small), theta, batch))).toBeLessThan(1e-4);
    tf.dispose([x, logits, ...Object.values(params)]);
  });

  it("has first- and second-order gradients equal to float64 central differences", () => {
    const model = convNet(small);
    const params = randomParams(model, 8);
    const names = model.parameterNames;
    const net = referenceConvNet(small);
    const batch = randomBatch(6, 49, 9);
    const r64 = Float64Array.from(createRng(10).normalArray(6 * 3, 1));
    const x = tf.tensor4d(Float32Array.from(batch.x), [6, 7, 7, 1]);
    const r = tf.tensor2d(Float32Array.from(r64), [6, 3]);
    const theta = Float64Array.from(flattenParams(params).dataSync());
    const v64 = Float64Array.from(createRng(11).normalArray(theta.length, 1));
    // f(θ) = Σ r ⊙ logits(θ): a linear functional of the logits, so the check needs no loss.
    const f = (...values: tf.Tensor[]) => tf.sum(tf.mul(model.forward(Object.fromEntries(names.map((name, i) => [name, values[i]!])), x), r));
    const flat = (tensors: tf.Tensor[]) => Float64Array.from(tf.concat(tensors.map((g) => tf.reshape(g, [-1]))).dataSync());
    const gradient = flat(tf.grads(f)(names.map((name) => params[name]!)));
    const reference = (t: Float64Array) => referenceForward(net, t, batch).reduce((s, value, i) => s + value * r64[i]!, 0);
    expect(relativeError(gradient, finiteDifference(reference, theta, 1e-6))).toBeLessThan(1e-3);

    // Second order: ∇(∇F · v) = H v for F = f²/2 (f is linear in the head, whose second derivatives
    // would be absent), against central differences of the float64 gradient of F along v.
    const squared = (...values: tf.Tensor[]) => tf.mul(0.5, tf.square(f(...values)));
    const referenceSquared = (t: Float64Array) => 0.5 * reference(t) ** 2;
    let offset = 0;
    const v = names.map((name) => {
      const size = params[name]!.size;
      const part = tf.tensor(Float32Array.from(v64.subarray(offset, offset + size)), params[name]!.shape);
      offset += size;
      return part;
    });
    const hessianVector = flat(
      tf.grads((...values: tf.Tensor[]) => {
        const first = tf.grads(squared)(values);
        return tf.addN(first.map((g, i) => tf.sum(tf.mul(g, v[i]!))));
      })(names.map((name) => params[name]!)),
    );
    const h = 1e-4;
    const along = (sign: number) =>
      finiteDifference(
        referenceSquared,
        theta.map((t, i) => t + sign * h * v64[i]!),
        1e-6,
      );
    const plus = along(1);
    const minus = along(-1);
    const referenceHv = plus.map((p, i) => (p - minus[i]!) / (2 * h));
    expect(relativeError(hessianVector, referenceHv)).toBeLessThan(1e-2);
    tf.dispose([x, r, ...v, ...Object.values(params)]);
  });

  it("gives forward exactly when blockPreactivation and blockOutput are chained with the batch's moments", () => {
    const model = convNet(small);
    const params = randomParams(model, 12);
    const x = tf.tensor4d(Float32Array.from(randomBatch(5, 49, 13).x), [5, 7, 7, 1]);
    const statistics = model.batchNormStatistics(params, x);
    const direct = model.forward(params, x, statistics);
    let hidden: tf.Tensor = x;
    for (let b = 0; b < 2; b++)
      hidden = model.blockOutput(params, model.blockPreactivation(params, hidden, b), b, { mean: statistics.mean[b]!, variance: statistics.variance[b]! });
    const chained = tf.add(tf.matMul(tf.reshape(hidden, [5, model.featureSize]), params["head/weight"]!), params["head/bias"]!);
    expect(Array.from(chained.dataSync())).toEqual(Array.from(direct.dataSync()));
    // Transductive forward normalises by the batch's own moments: the same numbers.
    const transductive = model.forward(params, x);
    expect(relativeError(transductive.dataSync(), direct.dataSync())).toBeLessThan(1e-5);
    tf.dispose([x, direct, chained, transductive, hidden, ...statistics.mean, ...statistics.variance, ...Object.values(params)]);
  });

  it("frees every intermediate tensor of forward and of its gradient", () => {
    const model = convNet(small);
    const params = model.init(createRng(14));
    const x = tf.randomUniform([4, 7, 7, 1]);
    const names = model.parameterNames;
    expect(tensorGrowth(() => model.forward(params, x).dispose(), 5)).toBe(0);
    const step = () =>
      tf.dispose(
        tf.grads((...values: tf.Tensor[]) => tf.sum(model.forward(Object.fromEntries(names.map((n, i) => [n, values[i]!])), x)))(names.map((n) => params[n]!)),
      );
    expect(tensorGrowth(step, 3)).toBe(0);
    tf.dispose([x, ...Object.values(params)]);
  });
});

describe("convNet batchNormScale false on the batched path", () => {
  it("equals stacking forward per task (max-pool, β only)", () => {
    const model = convNet({ ways: 3, inputShape: [8, 8, 1], filters: 4, blocks: 2, batchNormScale: false });
    const perTask = [0, 1].map((t) => randomParams(model, 20 + t));
    const stacked = Object.fromEntries(model.parameterNames.map((name) => [name, tf.stack(perTask.map((p) => p[name]!))]));
    const x = tf.randomUniform([2, 3, 8, 8, 1], 0, 1, "float32", 21);
    const batched = model.forwardBatched(stacked, x);
    const expected = tf.stack(perTask.map((p, t) => model.forward(p, tf.squeeze(tf.slice(x, [t], [1]), [0]))));
    expect(relativeError(batched.dataSync(), expected.dataSync(), 1)).toBeLessThan(1e-5);
    tf.dispose([x, batched, expected, ...Object.values(stacked), ...perTask.flatMap((p) => Object.values(p))]);
  });
});
