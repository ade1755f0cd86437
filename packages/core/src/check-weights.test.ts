import * as tf from "@tensorflow/tfjs-core";
import { ConcordError } from "./errors.js";
import type { WeightingResult } from "./types.js";
import { describeEachBackend } from "./testing/index.js";
import { expect, it } from "vitest";
import { checkWeights } from "./check-weights.js";

describeEachBackend("checkWeights", () => {
  const check =
    (result: unknown, tasks = 4) =>
    () =>
      checkWeights(result as WeightingResult, tasks, "x");

  it("returns the weights as numbers when the result is valid", () => {
    const weights = tf.tensor1d([0.5, -0.25, 0.25]);
    expect(checkWeights({ weights, fellBack: false }, 3, "x")).toEqual([0.5, -0.25, 0.25]);
    expect(weights.isDisposed).toBe(false);
    weights.dispose();
  });

  it("names the scheme and the expected shape when the shape is wrong", () => {
    const column = tf.zeros([3, 1]);
    expect(check({ weights: column })).toThrow(ConcordError);
    expect(check({ weights: column })).toThrow("weighting scheme 'x' returned shape [3,1]; expected [4]");
    const short = tf.zeros([3]);
    expect(check({ weights: short })).toThrow("weighting scheme 'x' returned shape [3]; expected [4]");
    tf.dispose([column, short]);
  });

  it("rejects results that are not a Tensor1D", () => {
    expect(check({ weights: [0.25, 0.25, 0.25, 0.25] })).toThrow(
      "weighting scheme 'x' returned { weights: an array }; expected { weights: Tensor1D of shape [4] }",
    );
    expect(check(undefined)).toThrow("weighting scheme 'x' returned undefined; expected { weights: Tensor1D of shape [4] }");
    const integer = tf.tensor1d([1, 1, 1, 1], "int32");
    expect(check({ weights: integer })).toThrow("weighting scheme 'x' returned dtype int32; expected float32");
    integer.dispose();
    const disposed = tf.zeros([4]);
    disposed.dispose();
    expect(check({ weights: disposed })).toThrow("weighting scheme 'x' returned a disposed weights tensor");
  });

  it("rejects non-finite weights, naming the first bad index", () => {
    for (const bad of [Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY]) {
      const weights = tf.tensor1d([0.25, 0.25, bad, 0.25]);
      expect(check({ weights })).toThrow(`weighting scheme 'x' returned weight 2 = ${bad}; expected finite values`);
      weights.dispose();
    }
  });

  it("rejects a fellBack flag that is not a boolean", () => {
    const weights = tf.fill([4], 0.25);
    expect(check({ weights, fellBack: 1 })).toThrow("weighting scheme 'x' returned fellBack = 1; expected a boolean or undefined");
    weights.dispose();
  });
});
