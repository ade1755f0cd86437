import * as tf from "@tensorflow/tfjs-core";
import { ConcordError, disposeParams, type Params, withInnerOptimizerParams } from "@concord/core";
import { describeEachBackend, tensorGrowth } from "@concord/core/testing";
import { expect, it } from "vitest";
import { metaSgd } from "./meta-sgd.js";

const values = (params: Params, name: string) => Array.from(params[name]!.dataSync());

function expectClose(actual: number[], expected: number[], tolerance = 1e-6): void {
  expect(actual).toHaveLength(expected.length);
  actual.forEach((value, i) => {
    expect(Math.abs(value - expected[i]!), `entry ${i}: ${value} vs ${expected[i]}`).toBeLessThanOrEqual(tolerance);
  });
}

describeEachBackend("metaSgd", () => {
  it("adds a rate lr/<name> of each parameter's shape, filled with lr, after the model's parameters", () => {
    const optimizer = metaSgd({ lr: 0.25 });
    const model = { w: tf.zeros([2, 3]), b: tf.zeros([3]) };
    const params = withInnerOptimizerParams(model, optimizer);
    expect(Object.keys(params)).toEqual(["w", "b", "lr/w", "lr/b"]);
    expect(params["lr/w"]!.shape).toEqual([2, 3]);
    expect(values(params, "lr/b")).toEqual([0.25, 0.25, 0.25]);
    expect(optimizer.ownParams.target("lr/w")).toBe("w");
    expect(optimizer.ownParams.target("w")).toBeUndefined();
    disposeParams(params);
  });

  it("steps θ − a ⊙ g with each element's own rate (hand-worked values)", () => {
    const optimizer = metaSgd({ lr: 0.1 });
    const params = { w: tf.tensor1d([1, -2]), "lr/w": tf.tensor1d([0.5, 0.25]), b: tf.scalar(3), "lr/b": tf.scalar(-1) };
    const state = optimizer.init(params);
    const next = optimizer.step({ w: params.w, b: params.b }, { w: tf.tensor1d([2, 4]), b: tf.scalar(1) }, state);
    expectClose(values(next.params, "w"), [1 - 0.5 * 2, -2 - 0.25 * 4]);
    expectClose(values(next.params, "b"), [3 + 1]);
    expect(Object.keys(next.params)).toEqual(["w", "b"]);
    disposeParams(next.params);
    disposeParams(params);
  });

  it("differentiates through the rate: d/da L(θ − a ⊙ ∇L(θ)) for L = Σθ² is −2(θ − 2aθ)·2θ", () => {
    const optimizer = metaSgd({ lr: 0.1 });
    const loss = (theta: tf.Tensor) => tf.sum(tf.square(theta));
    const theta = tf.tensor1d([1, -3]);
    const rate = tf.tensor1d([0.1, 0.2]);
    const gradient = tf.grad((a: tf.Tensor) => {
      const state = optimizer.init({ theta, "lr/theta": a });
      return loss(optimizer.step({ theta }, { theta: tf.grad(loss)(theta) }, state).params.theta!);
    })(rate);
    const expected = [1, -3].map((t, i) => -2 * (t - 2 * [0.1, 0.2][i]! * t) * 2 * t);
    expectClose(Array.from(gradient.dataSync()), expected, 1e-4);
    tf.dispose([theta, rate, gradient]);
  });

  it("does not grow the tensor count over 200 inner steps", () => {
    const optimizer = metaSgd({ lr: 0.01 });
    const params = withInnerOptimizerParams({ w: tf.randomNormal([4, 3]) }, optimizer);
    const grads = { w: tf.ones([4, 3]) };
    const growth = tensorGrowth(() => {
      const next = optimizer.step({ w: params.w! }, grads, optimizer.init(params));
      disposeParams(next.params);
    }, 200);
    expect(growth).toBe(0);
    disposeParams(params);
    disposeParams(grads);
  });

  it("rejects a bad lr, a missing rate and a parameter named like a rate with a ConcordError naming the field", () => {
    for (const lr of [0, -0.1, Number.NaN, Number.POSITIVE_INFINITY, "0.1", undefined]) {
      expect(() => metaSgd({ lr: lr as number })).toThrow(ConcordError);
      expect(() => metaSgd({ lr: lr as number })).toThrow(/^lr: expected a finite number > 0, got /);
    }
    const optimizer = metaSgd({ lr: 0.1 });
    const w = tf.zeros([2]);
    expect(() => optimizer.step({ w }, { w }, optimizer.init({ w }))).toThrow(/^params: expected the rate 'lr\/w' in the parameter map/);
    expect(() => optimizer.ownParams.init({ "lr/x": w })).toThrow(/^params: model parameter 'lr\/x' starts with 'lr\/'/);
    w.dispose();
  });
});
