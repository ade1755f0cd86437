import * as tf from "@tensorflow/tfjs-core";
import "@tensorflow/tfjs-backend-wasm";
import { beforeAll, describe, expect, it } from "vitest";
import { kernelOwner } from "../../registry-journal.js";
import { installFastPack } from "./fast.js";

describe("wasm Pack along axis 0 by heap copies", () => {
  beforeAll(async () => {
    expect(await tf.setBackend("wasm")).toBe(true);
    await tf.ready();
    expect(installFastPack()).toBe(true);
    expect(kernelOwner("Pack", "wasm")).toBe("fast:pack");
  });

  const cases: [string, () => tf.Tensor[]][] = [
    ["float32 [10, 1] × 25", () => Array.from({ length: 25 }, (_, i) => tf.randomNormal([10, 1], 0, 1, "float32", i))],
    ["int32 [3] × 4", () => [0, 1, 2, 3].map((i) => tf.tensor1d([i, i + 1, -i], "int32"))],
    ["bool [2, 2] × 3", () => [0, 1, 2].map((i) => tf.tensor2d([i > 0, false, true, i > 1], [2, 2], "bool"))],
    ["scalars × 5", () => [1, 2, 3, 4, 5].map((v) => tf.scalar(v))],
    ["empty [0, 3] × 2", () => [tf.zeros([0, 3]), tf.zeros([0, 3])]],
  ];
  for (const [title, make] of cases) {
    it(`${title}: the same values, shape and dtype as stacking by definition`, () => {
      const inputs = make();
      const before = tf.memory().numTensors;
      const stacked = tf.stack(inputs);
      expect(stacked.shape).toEqual([inputs.length, ...inputs[0]!.shape]);
      expect(stacked.dtype).toBe(inputs[0]!.dtype);
      expect(Array.from(stacked.dataSync())).toEqual(inputs.flatMap((t) => Array.from(t.dataSync())));
      stacked.dispose();
      expect(tf.memory().numTensors).toBe(before);
      tf.dispose(inputs);
    });
  }

  it("leaves other axes to the original kernel", () => {
    const a = tf.tensor2d([1, 2, 3, 4], [2, 2]);
    const b = tf.tensor2d([5, 6, 7, 8], [2, 2]);
    const stacked = tf.stack([a, b], 1);
    expect(stacked.shape).toEqual([2, 2, 2]);
    expect(Array.from(stacked.dataSync())).toEqual([1, 2, 5, 6, 3, 4, 7, 8]);
    tf.dispose([a, b, stacked]);
  });
});
