import * as tf from "@tensorflow/tfjs-core";
import "@tensorflow/tfjs-backend-wasm";
import { createRng } from "@concord/core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { installConcord, uninstallConcord } from "../../install.js";
import { type DirectBackend, directXnnpack } from "./fast.js";
import { nativeKernels } from "../native-kernels.js";

function bits(t: tf.Tensor): number[] {
  return Array.from(new Uint32Array(Float32Array.from(t.dataSync() as Float32Array).buffer));
}

// The MLP's products (1-40-40-1, K = 10) and odd sizes.
const SHAPES: [m: number, k: number, n: number][] = [
  [10, 1, 40],
  [10, 40, 40],
  [10, 40, 1],
  [7, 13, 29],
  [1, 64, 3],
];

describe("rank-2 matMul through XNNPACK without tfjs's JavaScript around it", () => {
  let pairs: [tf.Tensor, tf.Tensor][];
  let reference: number[][];

  beforeAll(async () => {
    await tf.setBackend("wasm");
    const rng = createRng(11);
    pairs = SHAPES.map(([m, k, n]) => [tf.tensor2d(rng.normalArray(m * k, 1), [m, k]), tf.tensor2d(rng.normalArray(k * n, 1), [k, n])]);
    const native = nativeKernels(); // set when @concord/backend-native runs this file; put back below
    uninstallConcord(); // tfjs-wasm's own BatchMatMul
    reference = pairs.map(([a, b]) => tf.tidy(() => bits(tf.matMul(a, b))));
    installConcord({ native });
  });

  afterAll(() => {
    pairs.forEach((pair) => tf.dispose(pair));
  });

  it("gives tfjs-wasm's bits, by the direct call and (without native kernels, which take these products) by the registered kernel", () => {
    const backend = tf.backend() as unknown as DirectBackend;
    pairs.forEach(([a, b], i) => {
      const info = directXnnpack(backend, a, b);
      expect(info, `${SHAPES[i]}`).toBeDefined();
      const direct = tf.engine().makeTensorFromTensorInfo(info!);
      expect(direct.shape).toEqual([a.shape[0], b.shape[1]]);
      expect(bits(direct)).toEqual(reference[i]);
      direct.dispose();
      if (nativeKernels() === undefined) {
        const registered = tf.matMul(a, b);
        expect(bits(registered)).toEqual(reference[i]);
        registered.dispose();
      }
    });
  });

  it("leaves other products to the other paths", () => {
    const backend = tf.backend() as unknown as DirectBackend;
    tf.tidy(() => {
      expect(directXnnpack(backend, tf.ones([2, 3, 4]), tf.ones([2, 4, 5]))).toBeUndefined();
      expect(directXnnpack(backend, tf.ones([3, 4]), tf.ones([5, 6]))).toBeUndefined();
      expect(directXnnpack(backend, tf.ones([0, 4]), tf.ones([4, 6]))).toBeUndefined();
    });
  });

  it("leaves no tensors behind and keeps weights cached by XNNPACK correct after they are disposed", () => {
    const before = tf.memory().numTensors;
    for (let i = 0; i < 20; i++) {
      tf.tidy(() => {
        // A fresh weight each time with the same shape: XNNPACK must not reuse a stale operator.
        const w = tf.fill([4, 3], i);
        const product = tf.matMul(tf.ones([2, 4]), w);
        expect(Array.from(product.dataSync())).toEqual(Array(6).fill(4 * i));
      });
    }
    expect(tf.memory().numTensors).toBe(before);
  });
});
