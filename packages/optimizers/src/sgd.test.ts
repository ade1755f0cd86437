import * as tf from "@tensorflow/tfjs-core";
import { ConcordError, disposeParams, type Params } from "@concord/core";
import { describeEachBackend, tensorGrowth } from "@concord/core/testing";
import { expect, it } from "vitest";
import { sgd } from "./sgd.js";

const values = (params: Params, name: string) => Array.from(params[name]!.dataSync());

function expectClose(actual: number[], expected: number[], tolerance = 1e-6): void {
  expect(actual).toHaveLength(expected.length);
  actual.forEach((value, i) => {
    expect(Math.abs(value - expected[i]!), `entry ${i}: ${value} vs ${expected[i]}`).toBeLessThanOrEqual(tolerance);
  });
}

describeEachBackend("sgd", () => {
  it("inner steps match hand-worked values (L = ½‖θ‖², so g = θ and θ ← 0.9·θ)", () => {
    const optimizer = sgd({ lr: 0.1 });
    let params: Params = { w: tf.tensor1d([1, -2]), b: tf.scalar(0.5) };
    let state = optimizer.init(params);
    const expected = [
      [[0.9, -1.8], [0.45]],
      [[0.81, -1.62], [0.405]],
      [[0.729, -1.458], [0.3645]],
    ];
    for (const [w, b] of expected) {
      const next = optimizer.step(params, params, state); // g = θ
      disposeParams(params);
      params = next.params;
      state = next.state;
      expectClose(values(params, "w"), w!);
      expectClose(values(params, "b"), b!);
    }
    expect(state).toBeNull();
    disposeParams(params);
  });

  it("steps each task of parameters with a leading task axis independently", () => {
    const optimizer = sgd({ lr: 0.5 });
    const stacked = { w: tf.tensor3d([[[1, 2]], [[3, 4]], [[5, 6]]]) }; // [T = 3, 1, 2]
    const grads = { w: tf.tensor3d([[[2, 0]], [[0, -2]], [[1, 1]]]) };
    const next = optimizer.step(stacked, grads, null).params;
    expect(next.w!.shape).toEqual([3, 1, 2]);
    expectClose(values(next, "w"), [0, 2, 3, 5, 4.5, 5.5]);
    tf.dispose([stacked.w, grads.w, next.w!]);
  });

  it("leaves its inputs alive and unchanged", () => {
    const params = { w: tf.tensor1d([1, 2]) };
    const grads = { w: tf.tensor1d([3, 4]) };
    const next = sgd({ lr: 1 }).step(params, grads, null).params;
    expect(params.w.isDisposed || grads.w.isDisposed).toBe(false);
    expect(values(params, "w")).toEqual([1, 2]);
    tf.dispose([params.w, grads.w, next.w!]);
  });

  it("is differentiable to second order: d/dθ L(θ − lr·∇L(θ)) for L = Σθ² is 2(1 − 2·lr)²θ", () => {
    // A step that hid ∇L(θ) from the tape would give the first-order value 2(1 − 2·lr)θ instead.
    const lr = 0.1;
    const optimizer = sgd({ lr });
    const loss = (theta: tf.Tensor) => tf.sum(tf.square(theta));
    const outer = tf.grad((theta: tf.Tensor) => {
      const inner = tf.grad(loss)(theta);
      return loss(optimizer.step({ theta }, { theta: inner }, null).params.theta!);
    });
    const theta = tf.tensor1d([1, -3]);
    const gradient = outer(theta);
    expectClose(
      Array.from(gradient.dataSync()),
      [1, -3].map((x) => 2 * (1 - 2 * lr) ** 2 * x),
      1e-5,
    );
    tf.dispose([theta, gradient]);
  });

  it("as outer optimizer applies θ − lr·d for 3 steps and counts them", () => {
    const optimizer = sgd({ lr: 0.25 });
    let params: Params = {
      w: tf.tensor2d([
        [1, 2],
        [3, 4],
      ]),
    };
    const metaGradient = {
      w: tf.tensor2d([
        [4, 0],
        [-4, 1],
      ]),
    };
    const expected = [
      [0, 2, 4, 3.75],
      [-1, 2, 5, 3.5],
      [-2, 2, 6, 3.25],
    ];
    for (const row of expected) {
      const next = optimizer.apply(params, metaGradient);
      disposeParams(params);
      params = next;
      expectClose(values(params, "w"), row);
    }
    expect(optimizer.getState()).toEqual({ name: "sgd", step: 3, slots: {} });
    disposeParams(params);
    metaGradient.w.dispose();
  });

  it("restores its step count and rejects foreign state", () => {
    const optimizer = sgd({ lr: 1 });
    optimizer.setState({ name: "sgd", step: 7, slots: {} });
    expect(optimizer.getState().step).toBe(7);
    expect(() => optimizer.setState({ name: "adam", step: 1, slots: {} })).toThrow(/^state\.name: expected optimizer state of 'sgd', got "adam"/);
    expect(() => optimizer.setState({ name: "sgd", step: -1, slots: {} })).toThrow(/^state\.step: /);
    const slot = tf.zeros([1]);
    expect(() => optimizer.setState({ name: "sgd", step: 1, slots: { "m/w": slot } })).toThrow(/^state\.slots: sgd keeps no slots/);
    slot.dispose();
  });

  it("does not grow the tensor count over 200 applies or inner steps", () => {
    const optimizer = sgd({ lr: 0.01 });
    let params: Params = { w: tf.randomNormal([4, 3]), b: tf.zeros([3]) };
    const grads = { w: tf.ones([4, 3]), b: tf.ones([3]) };
    const growth = tensorGrowth(() => {
      const next = optimizer.apply(params, grads);
      disposeParams(params);
      params = next;
      const inner = optimizer.step(params, grads, null).params;
      disposeParams(inner);
    }, 200);
    expect(growth).toBe(0);
    disposeParams(params);
    disposeParams(grads);
  });

  it("rejects bad options and mismatched gradients with a ConcordError naming the field", () => {
    for (const lr of [0, -0.1, Number.NaN, Number.POSITIVE_INFINITY, "0.1", undefined]) {
      expect(() => sgd({ lr: lr as number })).toThrow(ConcordError);
      expect(() => sgd({ lr: lr as number })).toThrow(/^lr: expected a finite number > 0, got /);
    }
    expect(() => sgd(undefined as unknown as { lr: number })).toThrow(/^lr: /);
    const params = { w: tf.zeros([2]) };
    const wrong = { v: tf.zeros([2]) };
    expect(() => sgd({ lr: 1 }).apply(params, wrong)).toThrow(/^metaGradient: expected parameters \[w\], got \[v\]/);
    expect(() => sgd({ lr: 1 }).step(params, wrong, null)).toThrow(/^grads: /);
    tf.dispose([params.w, wrong.v]);
  });
});
