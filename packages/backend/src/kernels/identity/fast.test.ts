import * as tf from "@tensorflow/tfjs-core";
import "@tensorflow/tfjs-backend-wasm";
import { beforeAll, describe, expect, it } from "vitest";
import { installSharingIdentity } from "./fast.js";

describe("buffer-sharing Identity on the wasm backend", () => {
  beforeAll(async () => {
    expect(await tf.setBackend("wasm")).toBe(true);
    await tf.ready();
    expect(installSharingIdentity()).toBe(true);
  });

  it("a clone keeps its values after the original is disposed, and frees the buffer with the last tensor", () => {
    const before = tf.memory();
    const x = tf.tensor([1, 2, 3, 4], [2, 2]);
    const y = tf.clone(x);
    expect(tf.memory().numDataBuffers).toBe(before.numDataBuffers + 1); // one shared buffer
    x.dispose();
    expect(Array.from(y.dataSync())).toEqual([1, 2, 3, 4]);
    const z = tf.add(y, 1);
    expect(Array.from(z.dataSync())).toEqual([2, 3, 4, 5]);
    tf.dispose([y, z]);
    expect(tf.memory().numTensors).toBe(before.numTensors);
    expect(tf.memory().numDataBuffers).toBe(before.numDataBuffers);
  });

  it("gradients that save inputs are unchanged", () => {
    const g = tf.tidy(() => tf.grad((x: tf.Tensor) => tf.sum(tf.mul(x, x)))(tf.tensor([1, -2, 3])));
    expect(Array.from(g.dataSync())).toEqual([2, -4, 6]);
    g.dispose();
  });

  it("string tensors still go through the original kernel", () => {
    const s = tf.tensor(["a", "b"]);
    const c = tf.clone(s);
    s.dispose();
    expect(c.arraySync()).toEqual(["a", "b"]);
    c.dispose();
  });
});
