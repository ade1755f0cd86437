// convNet with batchNorm "support" (statistics from the support set, never from the batch being
// run) and with ways 0 (an embedding network without a head).
import * as tf from "@tensorflow/tfjs-core";
import { createRng, flattenParams } from "@concord/core";
import { describeEachBackend, expectConcordError, finiteDifference, relativeError, tensorGrowth } from "@concord/core/testing";
import { beforeAll, describe, expect, it } from "vitest";
import { type BatchNormStatistics, convNet } from "./conv-net.js";
import { type ReferenceBatch, referenceConvNet, referenceForward } from "./testing/reference-conv-net.js";
import { randomBatch, randomParams } from "./testing/random-conv-net.js";

beforeAll(async () => {
  await tf.setBackend("cpu");
});

const shape: [number, number, number] = [8, 8, 1];
const small = { inputShape: shape, filters: 4, blocks: 2 };

const tensorOf = (batch: ReferenceBatch) => tf.tensor4d(Float32Array.from(batch.x), [batch.count, ...shape]);
const disposeStatistics = (statistics: BatchNormStatistics) => tf.dispose([...statistics.mean, ...statistics.variance]);

describe("convNet: options for support statistics and embeddings", () => {
  it("ways 0 is an embedding network: no head parameters, features out", () => {
    const model = convNet({ ways: 0, ...small, batchNorm: "support" });
    expect(model.head).toEqual([]);
    expect(model.parameterNames.some((name) => name.startsWith("head/"))).toBe(false);
    expect(model.featureSize).toBe(2 * 2 * 4);
    const params = model.init(createRng(1));
    expect(Object.keys(params)).toEqual(model.parameterNames);
    const x = tf.randomUniform([3, ...shape]);
    const statistics = model.batchNormStatistics(params, x);
    const features = model.forward(params, x, statistics);
    expect(features.shape).toEqual([3, 16]);
    tf.dispose([x, features, ...Object.values(params)]);
    disposeStatistics(statistics);
  });

  it("refuses to normalise by the batch in support mode, statistics without batch norm, and malformed statistics", () => {
    const support = convNet({ ways: 3, ...small, batchNorm: "support" });
    const none = convNet({ ways: 3, ...small, batchNorm: "none" });
    const params = support.init(createRng(2));
    const noneParams = none.init(createRng(2));
    const x = tf.zeros([2, ...shape]);
    const statistics = support.batchNormStatistics(params, x);
    expectConcordError(() => support.forward(params, x), "statistics", /support/);
    expectConcordError(() => support.forwardBatched(params, tf.zeros([1, 2, ...shape])), "execution");
    expectConcordError(() => none.forward(noneParams, x, statistics), "statistics", /none/);
    expectConcordError(() => support.forward(params, x, { mean: statistics.mean.slice(1), variance: statistics.variance }), "statistics");
    expectConcordError(
      () => support.forward(params, x, { mean: [statistics.mean[0]!, tf.reshape(statistics.mean[0]!, [2, 2])], variance: statistics.variance }),
      "statistics.mean[1]",
    );
    expectConcordError(() => support.batchNormStatistics(params, tf.zeros([2, 8, 8, 3])), "support");
    expectConcordError(() => convNet({ ways: 1 }), "ways");
    expect(none.batchNormStatistics(noneParams, x)).toEqual({ mean: [], variance: [] });
    tf.dispose([x, ...Object.values(params), ...Object.values(noneParams)]);
    disposeStatistics(statistics);
  });
});

describeEachBackend("convNet: batch norm from the support set", () => {
  it("gives one image the same output alone as inside any batch", () => {
    for (const ways of [3, 0]) {
      const model = convNet({ ways, ...small, batchNorm: "support" });
      const params = randomParams(model, 3);
      const support = tensorOf(randomBatch(6, 64, 4));
      const queries = tensorOf(randomBatch(5, 64, 5));
      const statistics = model.batchNormStatistics(params, support);
      const together = model.forward(params, queries, statistics).arraySync() as number[][];
      for (let i = 0; i < 5; i++) {
        const alone = tf.tidy(() => model.forward(params, tf.slice(queries, [i], [1]), statistics).arraySync() as number[][]);
        expect(relativeError(alone[0]!, together[i]!)).toBeLessThan(1e-6);
      }
      // And with other batch-mates (the first query next to copies of the last).
      const mixed = tf.tidy(
        () =>
          model
            .forward(params, tf.concat([tf.slice(queries, [0], [1]), tf.tile(tf.slice(queries, [4], [1]), [3, 1, 1, 1])]), statistics)
            .arraySync() as number[][],
      );
      expect(relativeError(mixed[0]!, together[0]!)).toBeLessThan(1e-6);
      tf.dispose([support, queries, ...Object.values(params)]);
      disposeStatistics(statistics);
    }
  });

  it("runs the support set exactly as transductive batch norm does (its own statistics)", () => {
    const supportModel = convNet({ ways: 3, ...small, batchNorm: "support" });
    const transductive = convNet({ ways: 3, ...small, batchNorm: "transductive" });
    const params = randomParams(supportModel, 6);
    const support = tensorOf(randomBatch(6, 64, 7));
    const statistics = supportModel.batchNormStatistics(params, support);
    const a = supportModel.forward(params, support, statistics);
    const b = transductive.forward(params, support);
    expect(relativeError(a.dataSync(), b.dataSync())).toBeLessThan(1e-5);
    // The statistics are the moments of block 0's pre-activations over the support images and pixels.
    const z = tf.tidy(() => tf.add(tf.conv2d(support, params["block0/conv/weight"] as tf.Tensor4D, 1, "same"), params["block0/conv/bias"]!));
    const moments = tf.moments(z, [0, 1, 2]);
    expect(relativeError(statistics.mean[0]!.dataSync(), moments.mean.dataSync())).toBeLessThan(1e-6);
    expect(relativeError(statistics.variance[0]!.dataSync(), moments.variance.dataSync())).toBeLessThan(1e-5);
    tf.dispose([support, a, b, z, moments.mean, moments.variance, ...Object.values(params)]);
    disposeStatistics(statistics);
  });

  for (const ways of [3, 0]) {
    it(`matches an independent float64 implementation (ways ${ways})`, () => {
      const model = convNet({ ways, ...small, batchNorm: "support" });
      const params = randomParams(model, 8);
      const theta = Float64Array.from(flattenParams(params).dataSync());
      const net = referenceConvNet({ ...small, ways });
      const supportBatch = randomBatch(6, 64, 9);
      const queryBatch = randomBatch(4, 64, 10);
      const [support, query] = [tensorOf(supportBatch), tensorOf(queryBatch)];
      const statistics = model.batchNormStatistics(params, support);
      const out = model.forward(params, query, statistics);
      expect(relativeError(out.dataSync(), referenceForward(net, theta, queryBatch, supportBatch))).toBeLessThan(1e-4);
      tf.dispose([support, query, out, ...Object.values(params)]);
      disposeStatistics(statistics);
    });
  }

  it("has gradients (through the support statistics too) equal to float64 central differences", () => {
    const model = convNet({ ways: 3, ...small, batchNorm: "support" });
    const params = randomParams(model, 11);
    const names = model.parameterNames;
    const net = referenceConvNet({ ...small, ways: 3 });
    const supportBatch = randomBatch(6, 64, 12);
    const queryBatch = randomBatch(4, 64, 13);
    const [support, query] = [tensorOf(supportBatch), tensorOf(queryBatch)];
    const weightsOfOutputs = Float64Array.from(createRng(14).normalArray(4 * 3, 1));
    const r = tf.tensor2d(Float32Array.from(weightsOfOutputs), [4, 3]);
    // f(θ) = Σ r ⊙ f_θ(query | statistics of the support set under θ): a linear functional of the outputs.
    const grads = tf.grads((...values: tf.Tensor[]) => {
      const current = Object.fromEntries(names.map((name, i) => [name, values[i]!]));
      return tf.sum(tf.mul(model.forward(current, query, model.batchNormStatistics(current, support)), r));
    })(names.map((name) => params[name]!));
    const tfGradient = Float64Array.from(tf.concat(grads.map((g) => tf.reshape(g, [-1]))).dataSync());
    const theta = Float64Array.from(flattenParams(params).dataSync());
    const f = (t: Float64Array) => referenceForward(net, t, queryBatch, supportBatch).reduce((s, v, i) => s + v * weightsOfOutputs[i]!, 0);
    const reference = finiteDifference(f, theta, 1e-6);
    // The statistics path matters: without it (statistics held constant) the gradient is different.
    expect(relativeError(tfGradient, reference)).toBeLessThan(1e-3);
    const constantStatistics = model.batchNormStatistics(params, support);
    const [withoutPath] = [
      tf.grads((...values: tf.Tensor[]) =>
        tf.sum(tf.mul(model.forward(Object.fromEntries(names.map((name, i) => [name, values[i]!])), query, constantStatistics), r)),
      )(names.map((name) => params[name]!)),
    ];
    const withoutGradient = Float64Array.from(tf.concat(withoutPath!.map((g) => tf.reshape(g, [-1]))).dataSync());
    expect(relativeError(withoutGradient, reference)).toBeGreaterThan(1e-2);
    tf.dispose([support, query, r, ...grads, ...withoutPath!, ...Object.values(params)]);
    disposeStatistics(constantStatistics);
  });

  it("frees every intermediate tensor of batchNormStatistics, forward and their gradient", () => {
    const model = convNet({ ways: 0, ...small, batchNorm: "support" });
    const params = model.init(createRng(15));
    const names = model.parameterNames;
    const support = tf.randomUniform([4, ...shape]);
    const query = tf.randomUniform([3, ...shape]);
    const run = () => {
      const statistics = model.batchNormStatistics(params, support);
      model.forward(params, query, statistics).dispose();
      disposeStatistics(statistics);
    };
    const differentiate = () =>
      tf.dispose(
        tf.grads((...values: tf.Tensor[]) => {
          const current = Object.fromEntries(names.map((name, i) => [name, values[i]!]));
          return tf.sum(model.forward(current, query, model.batchNormStatistics(current, support)));
        })(names.map((name) => params[name]!)),
      );
    expect(tensorGrowth(run, 4)).toBe(0);
    expect(tensorGrowth(differentiate, 3)).toBe(0);
    tf.dispose([support, query, ...Object.values(params)]);
  });
});

describe("convNet: blockMoments", () => {
  it("merged over chunks (Chan et al.'s pairwise update) gives batchNormStatistics of the whole set", () => {
    const model = convNet({ ways: 0, ...small, batchNorm: "support" });
    const params = randomParams(model, 16);
    const support = tensorOf(randomBatch(7, 64, 17));
    const whole = model.batchNormStatistics(params, support);
    const found: { mean: tf.Tensor[]; variance: tf.Tensor[] } = { mean: [], variance: [] };
    for (let block = 0; block < 2; block++) {
      // Chunks of 3, 3 and 1 images: n, mean, M2 = variance·n merged pairwise.
      let merged: { n: number; mean: Float64Array; m2: Float64Array } | undefined;
      for (const [start, size] of [
        [0, 3],
        [3, 3],
        [6, 1],
      ] as const) {
        const moments = tf.tidy(() => model.blockMoments(params, tf.slice(support, [start], [size]), block, found));
        const n = size * (block === 0 ? 64 : 16);
        const mean = Float64Array.from(moments.mean.dataSync());
        const m2 = Float64Array.from(moments.variance.dataSync(), (v) => v * n);
        tf.dispose([moments.mean, moments.variance]);
        if (!merged) merged = { n, mean, m2 };
        else {
          const total = merged.n + n;
          const previous = merged;
          merged = {
            n: total,
            mean: previous.mean.map((a, c) => a + ((mean[c]! - a) * n) / total),
            m2: previous.m2.map((a, c) => a + m2[c]! + ((mean[c]! - previous.mean[c]!) ** 2 * previous.n * n) / total),
          };
        }
      }
      found.mean.push(tf.tensor1d(Float32Array.from(merged!.mean)));
      found.variance.push(tf.tensor1d(Float32Array.from(merged!.m2, (v) => v / merged!.n)));
    }
    for (let block = 0; block < 2; block++) {
      expect(relativeError(found.mean[block]!.dataSync(), whole.mean[block]!.dataSync())).toBeLessThan(1e-5);
      expect(relativeError(found.variance[block]!.dataSync(), whole.variance[block]!.dataSync())).toBeLessThan(1e-5);
    }
    expectConcordError(() => model.blockMoments(params, support, 2, found), "block");
    expectConcordError(() => model.blockMoments(params, support, 1, { mean: [], variance: [] }), "earlier");
    tf.dispose([support, ...Object.values(params), ...found.mean, ...found.variance]);
    disposeStatistics(whole);
  });
});

describe("convNet: blockPreactivation and blockOutput", () => {
  for (const batchNorm of ["support", "none"] as const) {
    it(`chained over the blocks they give forward(params, x, statistics) exactly (batchNorm "${batchNorm}")`, () => {
      const model = convNet({ ways: 0, ...small, batchNorm });
      const params = randomParams(model, 21);
      const x = tensorOf(randomBatch(5, 64, 22));
      const statistics = batchNorm === "none" ? undefined : model.batchNormStatistics(params, x);
      const step = () =>
        tf.tidy(() => {
          let hidden: tf.Tensor4D = x;
          for (let block = 0; block < model.blocks; block++) {
            const z = model.blockPreactivation(params, hidden, block);
            // The pre-activations' moments are blockMoments' (the same ops on the same input).
            if (statistics) {
              const { mean } = tf.moments(z, [0, 1, 2]);
              const viaBlockMoments = model.blockMoments(params, x, block, statistics);
              expect(Array.from(mean.dataSync())).toEqual(Array.from(viaBlockMoments.mean.dataSync()));
            }
            hidden = model.blockOutput(params, z, block, statistics && { mean: statistics.mean[block]!, variance: statistics.variance[block]! });
          }
          return tf.reshape(hidden, [5, model.featureSize]);
        });
      const chained = step();
      const whole = model.forward(params, x, statistics);
      expect(Array.from(chained.dataSync())).toEqual(Array.from(whole.dataSync()));
      tf.dispose([chained, whole]);
      expect(tensorGrowth(() => tf.dispose(step()), 3)).toBe(0);
      tf.dispose([x, ...Object.values(params)]);
      if (statistics) disposeStatistics(statistics);
    });
  }

  it("name the field of a bad block, input, pre-activations or moments", () => {
    const model = convNet({ ways: 0, ...small, batchNorm: "support" });
    const params = randomParams(model, 23);
    const x = tensorOf(randomBatch(2, 64, 24));
    const z = model.blockPreactivation(params, x, 0);
    expectConcordError(() => model.blockPreactivation(params, x, 2), "block");
    expectConcordError(() => model.blockPreactivation(params, x, 1), "hidden");
    expectConcordError(() => model.blockOutput(params, x, 0, { mean: tf.zeros([4]), variance: tf.ones([4]) }), "z");
    expectConcordError(() => model.blockOutput(params, z, 0), "moments");
    expectConcordError(() => model.blockOutput(params, z, 0, { mean: tf.zeros([3]), variance: tf.ones([4]) }), "moments.mean");
    const plain = convNet({ ways: 0, ...small, batchNorm: "none" });
    const plainParams = randomParams(plain, 25);
    expectConcordError(() => plain.blockOutput(plainParams, z, 0, { mean: tf.zeros([4]), variance: tf.ones([4]) }), "moments");
    tf.dispose([x, z, ...Object.values(params), ...Object.values(plainParams)]);
  });
});
