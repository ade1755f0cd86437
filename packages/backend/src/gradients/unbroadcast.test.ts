import * as tf from "@tensorflow/tfjs-core";
import { describeEachBackend } from "@concord/core/testing";
import { expect, it } from "vitest";
import { unbroadcastUpstream } from "./util.js";

describeEachBackend("unbroadcastUpstream", () => {
  it("sums broadcast axes and reshapes only when the sum's shape differs", async () => {
    const dy = tf.tensor2d([
      [1, 2, 3],
      [4, 5, 6],
    ]);
    const cases: [shape: number[], values: number[], kernels: string[]][] = [
      [[3], [5, 7, 9], ["Sum"]],
      [
        [1, 3],
        [5, 7, 9],
        ["Sum", "Reshape"],
      ],
      [
        [2, 1],
        [6, 15],
        ["Sum", "Reshape"],
      ],
      [[2, 3], [1, 2, 3, 4, 5, 6], ["Reshape"]],
    ];
    for (const [shape, values, kernels] of cases) {
      let result: tf.Tensor | undefined;
      const profile = await tf.profile(() => {
        result = unbroadcastUpstream(dy, shape);
      });
      expect(result!.shape).toEqual(shape);
      expect(Array.from(result!.dataSync())).toEqual(values);
      expect(profile.kernels.map((k) => k.name)).toEqual(kernels);
      // Always a new tensor: the tape disposes what a gradient returns.
      expect(result).not.toBe(dy);
      result!.dispose();
      expect(dy.isDisposed).toBe(false);
    }
    dy.dispose();
  });

  it("a bias gradient is one Sum kernel", async () => {
    const x = tf.ones([4, 3]);
    const b = tf.tensor1d([0.5, -1, 2]);
    const profile = await tf.profile(() => {
      tf.tidy(() => {
        const g = tf.grad((bias: tf.Tensor) => tf.sum(tf.mul(tf.add(x, bias), tf.add(x, bias))))(b);
        // d/db Σ (x + b)² = 2 Σ_rows (x + b) = 8 (1 + b)
        expect(Array.from(g.dataSync())).toEqual([12, 0, 24]);
      });
    });
    const shapes = (k: (typeof profile.kernels)[number]) => JSON.stringify([k.inputShapes, k.outputShapes]);
    // The bias's Sum over the rows, and no Reshape of its [3] result to [3] after it.
    expect(profile.kernels.filter((k) => k.name === "Sum" && shapes(k) === "[[[4,3]],[[3]]]")).toHaveLength(2);
    expect(profile.kernels.filter((k) => k.name === "Reshape" && shapes(k) === "[[[3]],[[3]]]")).toEqual([]);
    tf.dispose([x, b]);
  });
});
