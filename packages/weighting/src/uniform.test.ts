import * as tf from "@tensorflow/tfjs-core";
import { describeEachBackend } from "@concord/core/testing";
import { expect, it } from "vitest";
import { uniform } from "./uniform.js";

describeEachBackend("uniform", () => {
  it("gives every task 1/N and never falls back", () => {
    for (const tasks of [1, 3, 7]) {
      const updates = tf.randomNormal([tasks, 4]) as tf.Tensor2D;
      const losses = tf.ones([tasks]) as tf.Tensor1D;
      const result = uniform().weights({ updates, losses, iteration: 0 });
      expect(result.weights.shape).toEqual([tasks]);
      for (const value of result.weights.dataSync()) expect(value).toBeCloseTo(1 / tasks, 7);
      expect(result.fellBack).toBeUndefined();
      tf.dispose([updates, losses, result.weights]);
    }
  });

  it("rejects updates that are not a matrix", () => {
    const scalar = tf.scalar(1);
    expect(() => uniform().weights({ updates: scalar as unknown as tf.Tensor2D, losses: scalar as unknown as tf.Tensor1D, iteration: 0 })).toThrow(
      /updates: weighting scheme 'uniform' expected a \[N, P\] matrix/,
    );
    scalar.dispose();
  });
});
