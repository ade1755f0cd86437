import * as tf from "@tensorflow/tfjs-core";
import { ConcordError, createRng, flattenParams, type Params } from "@concord/core";
import { describeEachBackend, finiteDifference, relativeError, tensorGrowth } from "@concord/core/testing";
import { beforeAll, describe, expect, it } from "vitest";
import { batchNormalize, convNet } from "./conv-net.js";
import { batchNormalizeBatched, convolve3x3Batched, patches3x3, shiftedWindows3x3 } from "./conv-net-batched.js";
import { type ReferenceBatch, referenceConvNet, referenceForward } from "./testing/reference-conv-net.js";
import { randomParams } from "./testing/random-conv-net.js";

beforeAll(async () => {
  await tf.setBackend("cpu");
});

const small = { ways: 3, inputShape: [8, 8, 1] as [number, number, number], filters: 4, blocks: 2 };

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
    const z = tf.tensor4d(
      rng.normalArray(6 * 5 * 5 * 4, 3).map((v, i) => v + (i % 4) * 7),
      [6, 5, 5, 4],
    );
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
    const grads = tf.grads((...values: tf.Tensor[]) => tf.sum(tf.mul(model.forward(Object.fromEntries(names.map((name, i) => [name, values[i]!])), x), r)))(
      names.map((name) => params[name]!),
    );
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

/** Per-task parameter maps with random entries, and the same stacked on a leading task axis. */
function taskParams(model: ReturnType<typeof convNet>, tasks: number, seed: number): { perTask: Params[]; stacked: Params } {
  const perTask = Array.from({ length: tasks }, (_, t) => randomParams(model, seed + t));
  const stacked = Object.fromEntries(model.parameterNames.map((name) => [name, tf.stack(perTask.map((params) => params[name]!))]));
  return { perTask, stacked };
}

function disposeAll(...maps: Params[]): void {
  for (const map of maps) tf.dispose(Object.values(map));
}

describeEachBackend("convNet: forwardBatched", () => {
  const cases = [
    { tasks: 1, examples: 1, batchNorm: "transductive" },
    { tasks: 3, examples: 4, batchNorm: "transductive" },
    { tasks: 5, examples: 2, batchNorm: "none" },
    { tasks: 2, examples: 6, batchNorm: "none" },
  ] as const;
  for (const { tasks, examples, batchNorm } of cases) {
    it(`equals stacking forward per task (T = ${tasks}, K = ${examples}, batch norm ${batchNorm}, 3 blocks, 2 input channels)`, () => {
      const model = convNet({ ways: 3, inputShape: [9, 10, 2], filters: 5, blocks: 3, batchNorm });
      const { perTask, stacked } = taskParams(model, tasks, 20);
      const x = tf.tensor(Float32Array.from(randomImages(tasks * examples, [9, 10, 2], 21)), [tasks, examples, 9, 10, 2]);
      const batched = model.forwardBatched(stacked, x);
      const expected = tf.tidy(() => tf.stack(perTask.map((params, t) => model.forward(params, tf.gather(x, t)))));
      expect(batched.shape).toEqual([tasks, examples, 3]);
      expect(relativeError(batched.dataSync(), expected.dataSync(), 1)).toBeLessThan(1e-5);
      tf.dispose([x, batched, expected]);
      disposeAll(stacked, ...perTask);
    });
  }

  it("gives each task its own filters and moments: changing one task's parameters or images changes only its logits", () => {
    const model = convNet(small);
    const { perTask, stacked } = taskParams(model, 3, 30);
    const x = tf.tensor(Float32Array.from(randomImages(3 * 4, small.inputShape, 31)), [3, 4, 8, 8, 1]);
    const base = model.forwardBatched(stacked, x);
    const otherFilter = {
      ...stacked,
      "block1/conv/weight": tf.tidy(() =>
        tf.concat([
          tf.slice(stacked["block1/conv/weight"]!, [0], [1]),
          tf.add(tf.slice(stacked["block1/conv/weight"]!, [1], [2]), tf.randomNormal([2, 3, 3, 4, 4], 0, 0.3, "float32", 32)),
        ]),
      ),
    };
    const changed = model.forwardBatched(otherFilter, x);
    const task = (logits: tf.Tensor, t: number) => tf.tidy(() => tf.gather(logits, t).dataSync());
    expect(relativeError(task(changed, 0), task(base, 0), 1)).toBe(0);
    expect(relativeError(task(changed, 1), task(base, 1), 1)).toBeGreaterThan(1e-3);
    tf.dispose([x, base, changed, otherFilter["block1/conv/weight"]]);
    disposeAll(stacked, ...perTask);
  });

  it("convolves exactly as tf.conv2d 'same' with each task's filter (the 9 windows in the filter's [kh, kw, cin] order)", () => {
    const rng = createRng(40);
    const [tasks, examples, cin, cout] = [3, 2, 3, 4];
    const x = tf.tensor4d(rng.normalArray(tasks * examples * 5 * 6 * cin), [tasks * examples, 5, 6, cin]);
    const weight = tf.tensor(rng.normalArray(tasks * 9 * cin * cout), [tasks, 3, 3, cin, cout]);
    const bias = tf.tensor2d(rng.normalArray(tasks * cout), [tasks, cout]);
    const batched = convolve3x3Batched(x, weight, bias, tasks);
    const expected = tf.tidy(() =>
      tf.stack(
        Array.from({ length: tasks }, (_, t) => {
          const images = tf.slice(x, [t * examples], [examples]);
          const z = tf.add(tf.conv2d(images, tf.gather(weight, t) as tf.Tensor4D, 1, "same"), tf.gather(bias, t));
          return tf.reshape(z, [examples * 5 * 6, cout]);
        }),
      ),
    );
    expect(batched.shape).toEqual([tasks, examples * 5 * 6, cout]);
    expect(relativeError(batched.dataSync(), expected.dataSync(), 1)).toBeLessThan(1e-6);
    // Concord's im2col kernel (installed in these tests) and the plain-op windows are the same copy.
    expect(tf.getKernel("ConcordIm2Col3x3", tf.getBackend())).toBeDefined();
    const [kernel, windows] = [patches3x3(x), shiftedWindows3x3(x)];
    expect(kernel.shape).toEqual([tasks * examples, 5, 6, 9 * cin]);
    expect(Array.from(kernel.dataSync())).toEqual(Array.from(windows.dataSync()));
    tf.dispose([x, weight, bias, batched, expected, kernel, windows]);
  });

  it("batch-normalises each task with its own moments, as batchNormalize on that task alone", () => {
    const rng = createRng(41);
    const z = tf.tensor3d(
      rng.normalArray(3 * 20 * 4, 2).map((v, i) => v + (i % 7)),
      [3, 20, 4],
    );
    const scale = tf.tensor2d(rng.normalArray(3 * 4), [3, 4]);
    const offset = tf.tensor2d(rng.normalArray(3 * 4), [3, 4]);
    const batched = batchNormalizeBatched(z, scale, offset, 1e-3);
    const expected = tf.tidy(() =>
      tf.stack(
        [0, 1, 2].map((t) =>
          tf.reshape(batchNormalize(tf.reshape(tf.gather(z, t), [4, 5, 1, 4]) as tf.Tensor4D, tf.gather(scale, t), tf.gather(offset, t), 1e-3), [20, 4]),
        ),
      ),
    );
    expect(relativeError(batched.dataSync(), expected.dataSync(), 1)).toBeLessThan(1e-5);
    tf.dispose([z, scale, offset, batched, expected]);
  });

  it("has gradients equal to stacking forward's (first and second order, through the tiled θ)", () => {
    const model = convNet(small);
    const { perTask, stacked } = taskParams(model, 2, 50);
    const x = tf.tensor(Float32Array.from(randomImages(2 * 3, small.inputShape, 51)), [2, 3, 8, 8, 1]);
    const r = tf.tensor3d(createRng(52).normalArray(2 * 3 * 3), [2, 3, 3]);
    const names = model.parameterNames;
    const asParams = (values: tf.Tensor[]) => Object.fromEntries(names.map((name, i) => [name, values[i]!]));
    const stackedForward = (params: Params) =>
      tf.stack(perTask.map((_, t) => model.forward(Object.fromEntries(names.map((name) => [name, tf.gather(params[name]!, t)])), tf.gather(x, t))));
    // f(θ) = Σ r ⊙ logits², g = ∇f, then the second-order term ∇(Σ g²) of both paths (f is not
    // linear in the head bias, so every parameter has a second derivative).
    const secondOrder = (run: (params: Params) => tf.Tensor) =>
      tf.tidy(() => {
        const grads = tf.grads((...values: tf.Tensor[]) => {
          const inner = tf.grads((...v: tf.Tensor[]) => tf.sum(tf.mul(tf.square(run(asParams(v))), r)))(values);
          return tf.addN(inner.map((g) => tf.sum(tf.square(g))));
        })(names.map((name) => stacked[name]!));
        return tf.concat(grads.map((g) => tf.reshape(g, [-1]))).dataSync();
      });
    const firstOrder = (run: (params: Params) => tf.Tensor) =>
      tf.tidy(() =>
        tf
          .concat(
            tf
              .grads((...v: tf.Tensor[]) => tf.sum(tf.mul(run(asParams(v)), r)))(names.map((name) => stacked[name]!))
              .map((g) => tf.reshape(g, [-1])),
          )
          .dataSync(),
      );
    const batchedRun = (params: Params) => model.forwardBatched(params, x);
    expect(relativeError(firstOrder(batchedRun), firstOrder(stackedForward), 1)).toBeLessThan(1e-5);
    const second = secondOrder(batchedRun);
    expect(second.some((v) => v !== 0)).toBe(true);
    expect(relativeError(second, secondOrder(stackedForward), 1)).toBeLessThan(1e-4);
    tf.dispose([x, r]);
    disposeAll(stacked, ...perTask);
  });

  it("rejects wrong inputs and parameters with a ConcordError naming the field", () => {
    const model = convNet(small);
    const { perTask, stacked } = taskParams(model, 2, 60);
    const x = tf.zeros([2, 3, 8, 8, 1]);
    const field = (run: () => unknown) => {
      try {
        run();
      } catch (error) {
        expect(error).toBeInstanceOf(ConcordError);
        return { field: (error as ConcordError).field, message: (error as Error).message };
      }
      throw new Error("expected a ConcordError");
    };
    expect(field(() => model.forwardBatched(stacked, tf.zeros([2, 8, 8, 1])))).toEqual({
      field: "x",
      message: "x: expected shape [T, K, 8, 8, 1] with T, K ≥ 1, got [2, 8, 8, 1]",
    });
    expect(field(() => model.forwardBatched(stacked, tf.zeros([2, 0, 8, 8, 1]))).field).toBe("x");
    expect(field(() => model.forwardBatched(stacked, tf.zeros([2, 3, 8, 8, 1], "int32"))).field).toBe("x");
    expect(field(() => model.forwardBatched(stacked, "x" as never)).field).toBe("x");
    // Per-task (unstacked) parameters, or a task axis that disagrees with x's.
    expect(field(() => model.forwardBatched(perTask[0]!, x))).toEqual({
      field: "params.block0/conv/weight",
      message: "params.block0/conv/weight: expected shape [2, 3, 3, 1, 4], got [3, 3, 1, 4]",
    });
    expect(field(() => model.forwardBatched(stacked, tf.zeros([3, 3, 8, 8, 1]))).field).toBe("params.block0/conv/weight");
    const { "head/bias": _dropped, ...missing } = stacked;
    expect(field(() => model.forwardBatched(missing, x)).field).toBe("params");
    tf.dispose(x);
    disposeAll(stacked, ...perTask);
  });

  it("frees every intermediate tensor of forwardBatched and of its gradient", () => {
    const model = convNet(small);
    const { perTask, stacked } = taskParams(model, 3, 70);
    const x = tf.randomUniform([3, 4, 8, 8, 1]);
    const names = model.parameterNames;
    const step = () =>
      tf.dispose(
        tf.grads((...v: tf.Tensor[]) => tf.sum(model.forwardBatched(Object.fromEntries(names.map((name, i) => [name, v[i]!])), x)))(
          names.map((name) => stacked[name]!),
        ),
      );
    expect(tensorGrowth(() => model.forwardBatched(stacked, x).dispose(), 5)).toBe(0);
    expect(tensorGrowth(step, 3)).toBe(0);
    tf.dispose(x);
    disposeAll(stacked, ...perTask);
  });
});
