import * as tf from "@tensorflow/tfjs-core";
import { ConcordError, createRng, flattenParams, type Params } from "@concord/core";
import { describeEachBackend, finiteDifference, relativeError, tensorGrowth } from "@concord/core/testing";
import { beforeAll, describe, expect, it } from "vitest";
import { batchNormalize, convNet } from "./conv-net.js";
import { type ReferenceBatch, referenceConvNet, referenceForward } from "./testing/reference-conv-net.js";

beforeAll(async () => {
  await tf.setBackend("cpu");
});

const small = { ways: 3, inputShape: [8, 8, 1] as [number, number, number], filters: 4, blocks: 2 };

/** Parameters with every entry random (not the init's zeros and ones), so every path is exercised. */
function randomParams(model: ReturnType<typeof convNet>, seed: number): Params {
  const rng = createRng(seed);
  const params = model.init(rng);
  const out: Record<string, tf.Tensor> = {};
  for (const [name, value] of Object.entries(params)) {
    const noise = rng.normalArray(value.size, 0.3);
    out[name] = tf.tidy(() => tf.add(value, tf.tensor(noise, value.shape, "float32")));
  }
  tf.dispose(Object.values(params));
  return out;
}

function randomImages(count: number, shape: readonly number[], seed: number): Float64Array {
  const rng = createRng(seed);
  return Float64Array.from({ length: count * shape.reduce((a, b) => a * b, 1) }, () => Math.fround(rng.uniform(0, 1)));
}

describe("convNet: architecture and validation", () => {
  it("has MAML's parameter layout and a 1×1×64 feature map for 28×28 inputs", () => {
    const model = convNet({ ways: 5 });
    expect(model.featureSize).toBe(64);
    expect(model.parameterNames).toEqual([
      ...[0, 1, 2, 3].flatMap((b) => [`block${b}/conv/weight`, `block${b}/conv/bias`, `block${b}/bn/scale`, `block${b}/bn/offset`]),
      "head/weight",
      "head/bias",
    ]);
    const params = model.init(createRng(0));
    expect(Object.keys(params)).toEqual(model.parameterNames);
    expect(params["block0/conv/weight"]!.shape).toEqual([3, 3, 1, 64]);
    expect(params["block3/conv/weight"]!.shape).toEqual([3, 3, 64, 64]);
    expect(params["head/weight"]!.shape).toEqual([64, 5]);
    // 4·(conv + bias + scale + offset) + head: the 112k-ish parameters of MAML's Omniglot CNN.
    const count = Object.values(params).reduce((total, value) => total + value.size, 0);
    expect(count).toBe(9 * 64 + 3 * 64 + 3 * (9 * 64 * 64 + 3 * 64) + 64 * 5 + 5);
    tf.dispose(Object.values(params));
  });

  it("pools 'valid' (odd sizes round down) and drops bn parameters without batch norm", () => {
    expect(convNet({ ways: 2, inputShape: [8, 8, 1], filters: 4, blocks: 2 }).featureSize).toBe(2 * 2 * 4);
    expect(convNet({ ways: 2, inputShape: [84, 84, 3], filters: 32 }).featureSize).toBe(5 * 5 * 32);
    expect(convNet({ ways: 2, batchNorm: "none" }).parameterNames.some((name) => name.includes("/bn/"))).toBe(false);
  });

  it("rejects bad options with a ConcordError naming the field", () => {
    const cases: [() => unknown, string][] = [
      [() => convNet({ ways: 1 }), "ways"],
      [() => convNet({ ways: 2.5 }), "ways"],
      [() => convNet({ ways: 5, filters: 0 }), "filters"],
      [() => convNet({ ways: 5, blocks: 0 }), "blocks"],
      [() => convNet({ ways: 5, inputShape: [28, 28] as never }), "inputShape"],
      [() => convNet({ ways: 5, inputShape: [8, 8, 1], blocks: 4 }), "inputShape"],
      [() => convNet({ ways: 5, batchNorm: "running" as never }), "batchNorm"],
      [() => convNet({ ways: 5, batchNormEpsilon: 0 }), "batchNormEpsilon"],
    ];
    for (const [make, field] of cases) {
      expect(make).toThrow(ConcordError);
      try {
        make();
      } catch (error) {
        expect((error as ConcordError).field).toBe(field);
      }
    }
  });

  it("rejects wrong inputs and parameters", () => {
    const model = convNet(small);
    const params = model.init(createRng(1));
    const x = tf.zeros([2, 8, 8, 1]);
    expect(() => model.forward(params, tf.zeros([2, 8, 8]))).toThrow(/x: expected shape \[K, 8, 8, 1\]/);
    expect(() => model.forward(params, tf.zeros([2, 8, 8, 3]))).toThrow(ConcordError);
    const { "head/bias": _dropped, ...missing } = params;
    expect(() => model.forward(missing, x)).toThrow(/missing \[head\/bias\]/);
    const wrongShape = { ...params, "head/bias": tf.zeros([4]) };
    expect(() => model.forward(wrongShape, x)).toThrow(/params\.head\/bias: expected shape \[3\]/);
    expect(() => model.init({} as never)).toThrow(/rng/);
    tf.dispose([x, wrongShape["head/bias"], ...Object.values(params)]);
  });
});

describe("convNet: initialisation", () => {
  it("is a deterministic function of the rng: Glorot-uniform weights, zero biases/offsets, unit scales", () => {
    const model = convNet({ ways: 5 });
    const a = model.init(createRng(7));
    const b = model.init(createRng(7));
    const c = model.init(createRng(8));
    for (const name of model.parameterNames) expect(a[name]!.dataSync()).toEqual(b[name]!.dataSync());
    expect(a["block1/conv/weight"]!.dataSync()).not.toEqual(c["block1/conv/weight"]!.dataSync());
    const limits: Record<string, number> = {
      "block0/conv/weight": Math.sqrt(6 / (9 * 1 + 9 * 64)),
      "block2/conv/weight": Math.sqrt(6 / (9 * 64 + 9 * 64)),
      "head/weight": Math.sqrt(6 / (64 + 5)),
    };
    for (const [name, limit] of Object.entries(limits)) {
      const values = Array.from(a[name]!.dataSync());
      const max = values.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
      expect(max).toBeLessThanOrEqual(limit);
      expect(max).toBeGreaterThan(0.9 * limit);
      // Uniform on [−l, l]: variance l²/3; the estimate's relative sd is √(0.8/n), allow 4 sd.
      const variance = values.reduce((s, v) => s + v * v, 0) / values.length;
      expect(Math.abs(variance / ((limit * limit) / 3) - 1)).toBeLessThan(4 * Math.sqrt(0.8 / values.length));
    }
    expect(Array.from(a["block0/conv/bias"]!.dataSync()).every((v) => v === 0)).toBe(true);
    expect(Array.from(a["block3/bn/offset"]!.dataSync()).every((v) => v === 0)).toBe(true);
    expect(Array.from(a["block3/bn/scale"]!.dataSync()).every((v) => v === 1)).toBe(true);
    expect(Array.from(a["head/bias"]!.dataSync()).every((v) => v === 0)).toBe(true);
    tf.dispose([...Object.values(a), ...Object.values(b), ...Object.values(c)]);
  });
});

describeEachBackend("convNet: numerics", () => {
  it("computes a hand-worked 3×3 case (conv 'same', ReLU, 'valid' pool of the top-left window, head)", () => {
    const model = convNet({ ways: 2, inputShape: [3, 3, 1], filters: 1, blocks: 1, batchNorm: "none" });
    // Filter: 1 at the centre, 10 at the right neighbour → out(y, x) = x(y, x) + 10·x(y, x+1).
    const filter = new Float32Array(9);
    filter[4] = 1;
    filter[5] = 10;
    const x = tf.tensor4d([1, 2, 3, 4, 5, 6, 7, 8, 9], [1, 3, 3, 1]);
    const logits = (bias: number) => {
      const params = {
        "block0/conv/weight": tf.tensor4d(filter, [3, 3, 1, 1]),
        "block0/conv/bias": tf.tensor1d([bias]),
        "head/weight": tf.tensor2d([[1, -1]]),
        "head/bias": tf.tensor1d([0.5, 0]),
      };
      const out = Array.from(model.forward(params, x).dataSync());
      tf.dispose(Object.values(params));
      return out;
    };
    // Top-left window: 1+20 = 21, 2+30 = 32, 4+50 = 54, 5+60 = 65 → pool 65 (+ bias).
    expect(logits(0)).toEqual([65.5, -65]);
    // With bias −60 only 65 survives the ReLU: 5 → logits [5.5, −5]; with −70 nothing does.
    expect(logits(-60)).toEqual([5.5, -5]);
    expect(logits(-70)).toEqual([0.5, 0]);
    x.dispose();
  });

  it("batch-normalises per channel with the batch's own moments (mean 0, variance v/(v+ε))", () => {
    const rng = createRng(3);
    const z = tf.tensor4d(rng.normalArray(6 * 5 * 5 * 4, 3).map((v, i) => v + (i % 4) * 7), [6, 5, 5, 4]);
    const normalised = batchNormalize(z, tf.ones([4]), tf.zeros([4]), 1e-3);
    const { mean, variance } = tf.moments(normalised, [0, 1, 2]);
    const raw = tf.moments(z, [0, 1, 2]).variance.dataSync();
    const m = mean.dataSync();
    const v = variance.dataSync();
    for (let c = 0; c < 4; c++) {
      expect(Math.abs(m[c]!)).toBeLessThan(1e-5);
      expect(v[c]!).toBeCloseTo(raw[c]! / (raw[c]! + 1e-3), 4);
    }
    tf.dispose([z, normalised, mean, variance]);
  });

  it("uses each call's batch statistics: a constant added to a conv bias changes nothing, other examples do", () => {
    const model = convNet(small);
    const params = randomParams(model, 4);
    const images = randomImages(6, small.inputShape, 5);
    const x = tf.tensor4d(Float32Array.from(images), [6, 8, 8, 1]);
    const shifted = { ...params, "block1/conv/bias": tf.add(params["block1/conv/bias"]!, 5) };
    const a = model.forward(params, x);
    const b = model.forward(shifted, x);
    expect(relativeError(b.dataSync(), a.dataSync())).toBeLessThan(1e-4);
    // Transductive: the first three examples' logits depend on which examples share the batch.
    const firstThree = tf.slice(x, [0, 0, 0, 0], [3, 8, 8, 1]);
    const alone = model.forward(params, firstThree);
    const together = tf.slice(a, [0, 0], [3, 3]);
    expect(relativeError(alone.dataSync(), together.dataSync())).toBeGreaterThan(1e-2);
    tf.dispose([x, a, b, firstThree, alone, together, shifted["block1/conv/bias"], ...Object.values(params)]);
  });

  it("matches an independent float64 implementation (2 blocks, 4 filters, 8×8 input)", () => {
    const model = convNet(small);
    const params = randomParams(model, 6);
    const theta = Float64Array.from(flattenParams(params).dataSync());
    const net = referenceConvNet(small);
    const batch: ReferenceBatch = { x: randomImages(6, small.inputShape, 7), count: 6, labels: [0, 1, 2, 0, 1, 2] };
    const x = tf.tensor4d(Float32Array.from(batch.x), [6, 8, 8, 1]);
    const logits = model.forward(params, x);
    expect(relativeError(logits.dataSync(), referenceForward(net, theta, batch))).toBeLessThan(1e-4);
    tf.dispose([x, logits, ...Object.values(params)]);
  });

  it("has gradients (through conv, batch norm, ReLU, max-pool, head) equal to float64 central differences", () => {
    const model = convNet(small);
    const params = randomParams(model, 8);
    const names = model.parameterNames;
    const net = referenceConvNet(small);
    const batch: ReferenceBatch = { x: randomImages(6, small.inputShape, 9), count: 6, labels: [0, 1, 2, 0, 1, 2] };
    const weightsOfLogits = Float64Array.from(createRng(10).normalArray(6 * 3, 1));
    const x = tf.tensor4d(Float32Array.from(batch.x), [6, 8, 8, 1]);
    const r = tf.tensor2d(Float32Array.from(weightsOfLogits), [6, 3]);
    // A linear functional of the logits, so the check needs no loss function: f(θ) = Σ r ⊙ logits(θ).
    const grads = tf.grads((...values: tf.Tensor[]) =>
      tf.sum(tf.mul(model.forward(Object.fromEntries(names.map((name, i) => [name, values[i]!])), x), r)),
    )(names.map((name) => params[name]!));
    const tfGradient = Float64Array.from(tf.concat(grads.map((g) => tf.reshape(g, [-1]))).dataSync());
    const theta = Float64Array.from(flattenParams(params).dataSync());
    const f = (t: Float64Array) => referenceForward(net, t, batch).reduce((s, v, i) => s + v * weightsOfLogits[i]!, 0);
    const reference = finiteDifference(f, theta, 1e-6);
    expect(relativeError(tfGradient, reference)).toBeLessThan(1e-3);
    tf.dispose([x, r, ...grads, ...Object.values(params)]);
  });

  it("frees every intermediate tensor of forward", () => {
    const model = convNet(small);
    const params = model.init(createRng(11));
    const x = tf.randomUniform([4, 8, 8, 1]);
    expect(tensorGrowth(() => model.forward(params, x).dispose(), 5)).toBe(0);
    tf.dispose([x, ...Object.values(params)]);
  });
});
