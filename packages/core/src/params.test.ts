import * as tf from "@tensorflow/tfjs-core";
import { describe, expect, it } from "vitest";
import { ConcordError } from "./errors.js";
import {
  assertSameKeys,
  countParams,
  disposeParams,
  dotParams,
  flattenParams,
  flattenStackedParams,
  sliceTaskParams,
  stackParams,
  tileParams,
  unflattenParams,
} from "./params.js";
import { describeEachBackend, tensorGrowth } from "./testing/index.js";

describeEachBackend("parameter-map helpers", () => {
  const make = () => ({
    w: tf.tensor2d([
      [1, 2],
      [3, 4],
    ]),
    b: tf.tensor1d([5, 6]),
  });

  it("flatten follows key order and unflatten inverts it", () => {
    const params = make();
    const flat = flattenParams(params);
    expect(Array.from(flat.dataSync())).toEqual([1, 2, 3, 4, 5, 6]);
    const back = unflattenParams(flat, params);
    expect(back.w!.arraySync()).toEqual([
      [1, 2],
      [3, 4],
    ]);
    expect(back.b!.arraySync()).toEqual([5, 6]);
    expect(countParams(params)).toBe(6);
    expect(dotParams(params, params).dataSync()[0]).toBe(1 + 4 + 9 + 16 + 25 + 36);
  });

  it("stack, tile, slice and flattenStacked agree", () => {
    const a = make();
    const b = {
      w: tf.tensor2d([
        [0, 0],
        [0, 1],
      ]),
      b: tf.tensor1d([2, 3]),
    };
    const stacked = stackParams([a, b]);
    expect(Array.from(flattenStackedParams(stacked).dataSync())).toEqual([1, 2, 3, 4, 5, 6, 0, 0, 0, 1, 2, 3]);
    expect(sliceTaskParams(stacked, 1).b!.arraySync()).toEqual([2, 3]);
    expect(tileParams(a, 3).w!.shape).toEqual([3, 2, 2]);
  });

  it("helpers create no stray tensors", () => {
    const params = make();
    const growth = tensorGrowth(() => {
      const tiled = tileParams(params, 4);
      const task = sliceTaskParams(tiled, 2);
      const flat = flattenParams(task);
      const back = unflattenParams(flat, params);
      disposeParams(tiled);
      disposeParams(task);
      disposeParams(back);
      flat.dispose();
    }, 10);
    expect(growth).toBe(0);
  });
});

describe("parameter validation", () => {
  it("names the parameter whose shape differs", () => {
    const a = { w: tf.zeros([2, 2]) };
    expect(() => assertSameKeys(a, { w: tf.zeros([2, 3]) })).toThrow(new ConcordError("expected shape [2,2], got [2,3]", { field: "params.w" }));
    expect(() => assertSameKeys(a, { v: tf.zeros([2, 2]) })).toThrow(/expected parameters \[w\], got \[v\]/);
    expect(() => unflattenParams(tf.zeros([3]) as tf.Tensor1D, a)).toThrow(/vector: expected a vector of 4 values, got 3/);
  });
});
