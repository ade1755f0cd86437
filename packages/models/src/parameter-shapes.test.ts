import * as tf from "@tensorflow/tfjs-core";
import { createRng, type Model } from "@concord/core";
import { beforeAll, describe, expect, it } from "vitest";
import { convNet } from "./conv-net.js";
import { mlp } from "./mlp.js";

// parameterShapes is what loaders trust instead of calling init on an untrusted file's options, so it
// must say exactly what init returns: the same names, in the same order, with the same shapes.
function initShapes(model: Model): [string, number[]][] {
  const params = model.init(createRng(1));
  const shapes = Object.entries(params).map(([name, tensor]): [string, number[]] => [name, [...tensor.shape]]);
  tf.dispose(Object.values(params));
  return shapes;
}

describe("Model.parameterShapes equals the shapes init() returns, in its order", () => {
  beforeAll(async () => {
    await tf.setBackend("cpu");
  });

  const models: [string, Model][] = [
    ["mlp 1-40-40-1", mlp({ sizes: [1, 40, 40, 1] })],
    ["mlp 3-2 pytorch", mlp({ sizes: [3, 2], init: "pytorch" })],
    ["conv-net 5-way 28x28x1, 8 filters", convNet({ ways: 5, filters: 8 })],
    ["conv-net 3-way 20x18x3, 2 blocks, no batch norm", convNet({ ways: 3, inputShape: [20, 18, 3], filters: 4, blocks: 2, batchNorm: "none" })],
  ];
  for (const [label, model] of models) {
    it(label, () => {
      const before = tf.memory().numTensors;
      const declared = Object.entries(model.parameterShapes!).map(([name, shape]): [string, number[]] => [name, [...shape]]);
      expect(tf.memory().numTensors).toBe(before);
      expect(declared).toEqual(initShapes(model));
    });
  }

  it("a huge declared model costs nothing until init: mlp [1, 65536, 65536, 1]", () => {
    const before = tf.memory().numTensors;
    const shapes = mlp({ sizes: [1, 65536, 65536, 1] }).parameterShapes!;
    expect(shapes["layer1/weight"]).toEqual([65536, 65536]);
    expect(tf.memory().numTensors).toBe(before);
  });
});
