import * as tf from "@tensorflow/tfjs-core";
import "@tensorflow/tfjs-backend-cpu";
import "@tensorflow/tfjs-backend-wasm";
import { describeEachBackend } from "@concord/core/testing";
import { beforeAll, expect, it } from "vitest";
import { installLeanClone } from "./lean-clone.js";

describeEachBackend("lean Engine.clone for saved tensors", () => {
  beforeAll(() => {
    expect(installLeanClone()).toBe(true);
  });

  it("first, second and third derivatives of x³·eˣ are unchanged, and nothing leaks", () => {
    const before = tf.memory().numTensors;
    const f = (x: tf.Tensor) => tf.mul(tf.mul(tf.mul(x, x), x), tf.exp(x));
    const d1 = (x: tf.Tensor) => tf.grad(f)(x);
    const d2 = (x: tf.Tensor) => tf.grad(d1)(x);
    const d3 = (x: tf.Tensor) => tf.grad(d2)(x);
    const x = tf.tensor1d([0.3, -1.2, 2]);
    const values = [d1, d2, d3].map((d) => tf.tidy(() => Array.from(d(x).dataSync())));
    const xs = [0.3, -1.2, 2];
    const expected = [
      xs.map((v) => Math.exp(v) * (v ** 3 + 3 * v * v)),
      xs.map((v) => Math.exp(v) * (v ** 3 + 6 * v * v + 6 * v)),
      xs.map((v) => Math.exp(v) * (v ** 3 + 9 * v * v + 18 * v + 6)),
    ];
    values.forEach((got, order) => got.forEach((v, i) => expect(v).toBeCloseTo(expected[order]![i]!, 3)));
    x.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });

  it("a saved input disposed by the caller stays readable for the backward pass", () => {
    const g = tf.tidy(() =>
      tf.grad((x: tf.Tensor) => {
        const y = tf.exp(x);
        const z = tf.mul(y, y); // saves y twice
        return tf.sum(z);
      })(tf.tensor1d([0.5, 1])),
    );
    expect(Array.from(g.dataSync()).map((v) => Number(v.toFixed(4)))).toEqual([0.5, 1].map((v) => Number((2 * Math.exp(2 * v)).toFixed(4))));
    g.dispose();
  });
});
