import * as tf from "@tensorflow/tfjs-core";
import { createRng, disposeParams, stackParams } from "@concord/core";
import type { Params } from "@concord/core";
import { describeEachBackend, relativeError, tensorGrowth, expectConcordError } from "@concord/core/testing";
import { beforeAll, describe, expect, it } from "vitest";
import { mlp } from "./mlp.js";

/** A 2-3-1 net with hand-picked weights. */
function tinyParams(): Params {
  return {
    "layer0/weight": tf.tensor2d([
      [1, -1, 0.5],
      [2, 0, -1],
    ]),
    "layer0/bias": tf.tensor1d([0, 1, -0.5]),
    "layer1/weight": tf.tensor2d([[1], [2], [-3]]),
    "layer1/bias": tf.tensor1d([0.25]),
  };
}

// x = (1, 1):   pre = (1·1 + 1·2 + 0, −1 + 0 + 1, 0.5 − 1 − 0.5) = (3, 0, −1)
// x = (−1, 0.5): pre = (−1 + 1 + 0, 1 + 0 + 1, −0.5 − 0.5 − 0.5) = (0, 2, −1.5)
const TINY_X = [
  [1, 1],
  [-1, 0.5],
];
const TINY_PRE = [
  [3, 0, -1],
  [0, 2, -1.5],
];

function expectedTiny(act: (v: number) => number): number[] {
  const w2 = [1, 2, -3];
  return TINY_PRE.map((row) => row.reduce((sum, v, j) => sum + act(v) * w2[j]!, 0.25));
}

describeEachBackend("mlp", () => {
  it("computes a hand-worked 2-3-1 forward pass for every activation", () => {
    const params = tinyParams();
    const x = tf.tensor2d(TINY_X);
    const cases = {
      relu: (v: number) => Math.max(0, v),
      tanh: Math.tanh,
      sigmoid: (v: number) => 1 / (1 + Math.exp(-v)),
      none: (v: number) => v,
    } as const;
    // relu by hand: row 1 → 3·1 + 0·2 + 0·(−3) + 0.25 = 3.25; row 2 → 0 + 2·2 + 0 + 0.25 = 4.25.
    expect(expectedTiny(cases.relu)).toEqual([3.25, 4.25]);
    for (const [activation, fn] of Object.entries(cases)) {
      const model = mlp({ sizes: [2, 3, 1], activation: activation as keyof typeof cases });
      const out = model.forward(params, x);
      expect(out.shape).toEqual([2, 1]);
      expect(relativeError(out.dataSync(), expectedTiny(fn), 1)).toBeLessThan(1e-6);
      out.dispose();
    }
    x.dispose();
    disposeParams(params);
  });

  it("batched forward equals per-task forward stacked", () => {
    const model = mlp({ sizes: [1, 40, 40, 1] });
    const rng = createRng(3);
    const tasks = 5;
    const perTask = Array.from({ length: tasks }, () => model.init(rng));
    // Non-zero biases so the bias broadcasting over K is actually exercised.
    const withBias = perTask.map((p) => ({ ...p, "layer0/bias": tf.tensor1d(rng.normalArray(40)), "layer2/bias": tf.tensor1d(rng.normalArray(1)) }));
    const xs = Array.from({ length: tasks }, () =>
      tf.tensor2d(
        Float32Array.from({ length: 7 }, () => rng.uniform(-5, 5)),
        [7, 1],
      ),
    );
    const stacked = stackParams(withBias);
    const xStacked = tf.stack(xs);
    const batched = model.forwardBatched(stacked, xStacked);
    expect(batched.shape).toEqual([tasks, 7, 1]);
    const loop = tf.tidy(() => tf.stack(withBias.map((p, t) => model.forward(p, xs[t]!))));
    expect(relativeError(batched.dataSync(), loop.dataSync(), 1)).toBeLessThan(1e-6);
    // Tasks really differ, so a mix-up of the task axis would be caught.
    const [first, second] = [tf.slice(loop, [0], [1]), tf.slice(loop, [1], [1])];
    expect(relativeError(first.dataSync(), second.dataSync(), 1)).toBeGreaterThan(1e-2);
    tf.dispose([batched, loop, xStacked, first, second, ...xs]);
    withBias.forEach(disposeParams);
    perTask.forEach(disposeParams);
    disposeParams(stacked);
  });

  it("runs a 2-D input through a deeper tanh network in both paths", () => {
    const model = mlp({ sizes: [2, 4, 3, 2], activation: "tanh" });
    const params = model.init(createRng(9));
    const x = tf.randomUniform([3, 6, 2], -1, 1, "float32", 1);
    const stacked = stackParams([params, params, params]);
    const batched = model.forwardBatched(stacked, x);
    const loop = tf.tidy(() => tf.stack(tf.unstack(x).map((xt) => model.forward(params, xt))));
    expect(batched.shape).toEqual([3, 6, 2]);
    expect(relativeError(batched.dataSync(), loop.dataSync(), 1)).toBeLessThan(1e-6);
    tf.dispose([x, batched, loop]);
    disposeParams(params);
    disposeParams(stacked);
  });

  it("does not leak tensors in forward, forwardBatched or init", () => {
    const model = mlp({ sizes: [1, 40, 40, 1] });
    const params = model.init(createRng(1));
    const stacked = stackParams([params, params]);
    const x = tf.ones([10, 1]);
    const xb = tf.ones([2, 10, 1]);
    const rng = createRng(2);
    const growth = tensorGrowth(() => {
      model.forward(params, x).dispose();
      model.forwardBatched(stacked, xb).dispose();
      disposeParams(model.init(rng));
    }, 20);
    expect(growth).toBe(0);
    tf.dispose([x, xb]);
    disposeParams(params);
    disposeParams(stacked);
  });
});

describe("mlp init", () => {
  beforeAll(async () => {
    await tf.setBackend("cpu");
  });

  it("orders parameter keys by layer with weight [in, out] and bias [out]", () => {
    const params = mlp({ sizes: [1, 40, 40, 1] }).init(createRng(0));
    expect(Object.keys(params)).toEqual(["layer0/weight", "layer0/bias", "layer1/weight", "layer1/bias", "layer2/weight", "layer2/bias"]);
    expect(Object.values(params).map((p) => p.shape)).toEqual([[1, 40], [40], [40, 40], [40], [40, 1], [1]]);
    expect(Object.values(params).every((p) => p.dtype === "float32")).toBe(true);
    disposeParams(params);
  });

  it("is a pure function of the seed: same seed identical, other seed different", () => {
    const model = mlp({ sizes: [3, 16, 2] });
    const a = model.init(createRng(42));
    const b = model.init(createRng(42));
    const c = model.init(createRng(43));
    for (const key of Object.keys(a)) {
      expect(Array.from(a[key]!.dataSync())).toEqual(Array.from(b[key]!.dataSync()));
    }
    expect(Array.from(a["layer0/weight"]!.dataSync())).not.toEqual(Array.from(c["layer0/weight"]!.dataSync()));
    // Weights come from rng.normalArray in layer order: the first layer's values are the first draws.
    const expected = createRng(42).normalArray(3 * 16, Math.sqrt(2 / 3));
    expect(Array.from(a["layer0/weight"]!.dataSync())).toEqual(Array.from(expected));
    [a, b, c].forEach(disposeParams);
  });

  it("draws He-scaled weights (mean ≈ 0, variance ≈ 2 / fan_in) and zero biases", () => {
    const fanIn = 200;
    const params = mlp({ sizes: [fanIn, 300, 1] }).init(createRng(7));
    const w = Array.from(params["layer0/weight"]!.dataSync());
    const n = w.length; // 60 000 draws: standard error of the variance ratio ≈ sqrt(2 / n) ≈ 0.006
    const mean = w.reduce((s, v) => s + v, 0) / n;
    const variance = w.reduce((s, v) => s + (v - mean) ** 2, 0) / n;
    const target = 2 / fanIn;
    expect(Math.abs(mean)).toBeLessThan(5 * Math.sqrt(target / n));
    expect(Math.abs(variance / target - 1)).toBeLessThan(0.03);
    expect(Array.from(params["layer0/bias"]!.dataSync()).every((v) => v === 0)).toBe(true);
    const w1 = Array.from(params["layer1/weight"]!.dataSync());
    const var1 = w1.reduce((s, v) => s + v * v, 0) / w1.length;
    expect(var1 / (2 / 300)).toBeGreaterThan(0.7); // 300 draws of the second layer: scaled by its own fan_in
    expect(var1 / (2 / 300)).toBeLessThan(1.3);
    disposeParams(params);
  });

  it("exposes name, sizes and activation", () => {
    const model = mlp({ sizes: [1, 8, 1], activation: "sigmoid", name: "sine-net" });
    expect(model.name).toBe("sine-net");
    expect(model.sizes).toEqual([1, 8, 1]);
    expect(model.activation).toBe("sigmoid");
    expect(mlp({ sizes: [1, 1] }).name).toBe("mlp");
    expect(mlp({ sizes: [1, 1] }).activation).toBe("relu");
  });
});

describe("mlp validation", () => {
  beforeAll(async () => {
    await tf.setBackend("cpu");
  });

  it("rejects bad options naming the field", () => {
    expectConcordError(() => mlp({ sizes: [1] }), "sizes", /at least 2/);
    expectConcordError(() => mlp({} as never), "sizes");
    expectConcordError(() => mlp({ sizes: [1, 0, 1] }), "sizes[1]", /integer >= 1/);
    expectConcordError(() => mlp({ sizes: [1, 2.5] }), "sizes[1]");
    expectConcordError(() => mlp({ sizes: [1, 4, 1], activation: "gelu" as never }), "activation", /"relu"/);
    expectConcordError(() => mlp({ sizes: [1, 1], name: "" }), "name");
  });

  it("rejects inputs of the wrong shape with the expected shape in the message", () => {
    const model = mlp({ sizes: [1, 4, 1] });
    const params = model.init(createRng(0));
    const x = tf.zeros([10, 3]);
    expectConcordError(() => model.forward(params, x), "x", "x: expected shape [K, 1], got [10, 3]");
    const x1 = tf.zeros([10]);
    expectConcordError(() => model.forward(params, x1), "x", /expected shape \[K, 1\], got \[10\]/);
    const xInt = tf.zeros([10, 1], "int32");
    expectConcordError(() => model.forward(params, xInt), "x", /float32/);
    expectConcordError(() => model.forward(params, [[1]] as never), "x", /expected a tensor/);
    const xb = tf.zeros([10, 1]);
    expectConcordError(() => model.forwardBatched(params, xb), "x", /expected shape \[T, K, 1\], got \[10, 1\]/);
    tf.dispose([x, x1, xInt, xb]);
    disposeParams(params);
  });

  it("rejects parameters with missing keys or wrong shapes", () => {
    const model = mlp({ sizes: [1, 4, 1] });
    const params = model.init(createRng(0));
    const x = tf.zeros([5, 1]);
    const { "layer1/bias": _dropped, ...missing } = params;
    expectConcordError(() => model.forward(missing, x), "params", /missing \[layer1\/bias\]/);
    const extra = { ...params, "layer2/weight": params["layer1/weight"]! };
    expectConcordError(() => model.forward(extra, x), "params", /unexpected \[layer2\/weight\]/);
    const wrong = tf.zeros([4, 2]);
    expectConcordError(() => model.forward({ ...params, "layer1/weight": wrong }, x), "params.layer1/weight", "expected shape [4, 1], got [4, 2]");
    // Unstacked parameters on the batched path: the task axis is named in the expected shape.
    const xb = tf.zeros([3, 5, 1]);
    expectConcordError(() => model.forwardBatched(params, xb), "params.layer0/weight", "expected shape [3, 1, 4], got [1, 4]");
    const stacked = stackParams([params, params]);
    expectConcordError(() => model.forwardBatched(stacked, xb), "params.layer0/weight", "expected shape [3, 1, 4], got [2, 1, 4]");
    tf.dispose([x, wrong, xb]);
    disposeParams(params);
    disposeParams(stacked);
  });
});

describe("mlp init: 'pytorch'", () => {
  it("draws weights and biases from U(±1/√fan_in), from the rng only", () => {
    const model = mlp({ sizes: [4, 50, 1], init: "pytorch" });
    const params = model.init(createRng(5));
    const again = model.init(createRng(5));
    for (const [key, value] of Object.entries(params)) {
      const fanIn = key.startsWith("layer0") ? 4 : 50;
      const values = Array.from(value.dataSync());
      expect(values.every((v) => Math.abs(v) <= 1 / Math.sqrt(fanIn))).toBe(true);
      expect(values.some((v) => Math.abs(v) > 0.5 / Math.sqrt(fanIn))).toBe(true); // spread, not all near zero
      expect(values).toEqual(Array.from(again[key]!.dataSync()));
    }
    expect(() => mlp({ sizes: [1, 1], init: "xavier" as "he" })).toThrow(/init: expected "he" or "pytorch", got "xavier"/);
  });
});
