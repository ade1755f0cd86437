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

describeEachBackend("lean clone's gradient", () => {
  it("passes dy on by Identity (shared buffer), not by a copying Cast, with the same values", async () => {
    const x = tf.tensor1d([0.5, -1, 2]);
    // Second order: the first gradient saves tensors while the outer tape records, so the outer
    // backward pass runs the clones' gradients.
    const second = (v: tf.Tensor) => tf.grad((w: tf.Tensor) => tf.sum(tf.grad((u: tf.Tensor) => tf.sum(tf.mul(tf.exp(u), u)))(w)))(v);
    const profile = await tf.profile(() => {
      tf.tidy(() => {
        const g = second(x);
        // d²/dx² of x·eˣ = (x + 2)·eˣ
        Array.from(g.dataSync()).forEach((value, i) => expect(value).toBeCloseTo(([0.5, -1, 2][i]! + 2) * Math.exp([0.5, -1, 2][i]!), 4));
      });
    });
    const names = profile.kernels.map((k) => k.name);
    expect(names).toContain("Identity");
    expect(names).not.toContain("Cast");
    x.dispose();
  });
});
