// The wasm kernel replacements take the native path while native kernels are installed (the test
// setup installs them, counted), and give the values of the wasm-only path up to summation order.
import * as tf from "@tensorflow/tfjs-core";
import { nativeKernels, setNativeKernels } from "@concord/backend";
import { createRng } from "@concord/core";
import { relativeError } from "@concord/core/testing";
import { beforeAll, describe, expect, it } from "vitest";
import { nativeCalls } from "../test/counting-kernels.js";

type Random = (shape: number[]) => tf.Tensor;
/** Seeded normal tensors: each path sees the same inputs. */
function randomFrom(seed: number): Random {
  const rng = createRng(seed);
  return (shape) =>
    tf.tensor(
      rng.normalArray(
        shape.reduce((a, b) => a * b, 1),
        1,
      ),
      shape,
    );
}

/** f's values through the native path (asserting that it called sgemm) and through the wasm-only kernels. */
function bothPaths(f: (random: Random) => tf.Tensor): { native: Float32Array; wasm: Float32Array } {
  const installed = nativeKernels();
  expect(installed).toBeDefined();
  const before = tf.memory().numTensors;
  const calls = nativeCalls.sgemm;
  const native = tf.tidy(() => f(randomFrom(11)));
  expect(nativeCalls.sgemm).toBeGreaterThan(calls);
  const nativeValues = native.dataSync() as Float32Array;
  native.dispose();
  setNativeKernels(undefined);
  try {
    const wasm = tf.tidy(() => f(randomFrom(11)));
    const wasmValues = wasm.dataSync() as Float32Array;
    wasm.dispose();
    expect(tf.memory().numTensors).toBe(before);
    return { native: nativeValues, wasm: wasmValues };
  } finally {
    setNativeKernels(installed);
  }
}

describe("wasm kernels with native GEMM", () => {
  beforeAll(async () => {
    expect(await tf.setBackend("wasm")).toBe(true);
    await tf.ready();
  });

  const cases: [string, (random: Random) => tf.Tensor][] = [];
  cases.push(["rank-2 matMul (XNNPACK's case without native)", (random) => tf.matMul(random([64, 48]), random([48, 32]))]);
  cases.push(["rank-2 matMul, both transposed", (random) => tf.matMul(random([48, 64]), random([32, 48]), true, true)]);
  cases.push(["rank-3 matMul with a broadcast right side", (random) => tf.matMul(random([5, 10, 40]), random([40, 7]))]);
  cases.push(["conv2d 3×3 same (im2col + sgemm)", (random) => tf.conv2d(random([3, 9, 9, 8]) as tf.Tensor4D, random([3, 3, 8, 16]) as tf.Tensor4D, 1, "same")]);
  cases.push([
    "conv2d 1×1 valid (sgemm on x itself)",
    (random) => tf.conv2d(random([2, 5, 5, 8]) as tf.Tensor4D, random([1, 1, 8, 4]) as tf.Tensor4D, 1, "valid"),
  ]);
  cases.push([
    "conv2dTranspose (input gradient)",
    (random) => tf.conv2dTranspose(random([2, 6, 6, 16]) as tf.Tensor4D, random([3, 3, 8, 16]) as tf.Tensor4D, [2, 6, 6, 8], 1, "same"),
  ]);
  cases.push([
    "filter gradient (ConcordConv2DBackpropFilter: im2col + transposed sgemm)",
    (random) => {
      const x = random([3, 8, 8, 4]) as tf.Tensor4D;
      const dy = random([3, 8, 8, 6]);
      return tf.grad((filter: tf.Tensor) => tf.sum(tf.mul(tf.conv2d(x, filter as tf.Tensor4D, 1, "same"), dy)))(random([3, 3, 4, 6]));
    },
  ]);
  cases.push([
    "per-task 3×3 convolutions as batched execution runs them (ConcordIm2Col3x3 by native im2col, one batched sgemm)",
    (random) => {
      const calls = nativeCalls.im2col;
      const patches = tf.engine().runKernel("ConcordIm2Col3x3", { x: random([6, 7, 5, 4]) }, {}) as tf.Tensor;
      // Only while native kernels are set: the wasm-only pass of bothPaths uses gemm.wat's im2col.
      if (nativeKernels()) expect(nativeCalls.im2col).toBe(calls + 1);
      return tf.matMul(tf.reshape(patches, [2, 3 * 7 * 5, 36]), random([2, 36, 8]));
    },
  ]);
  for (const [title, f] of cases) {
    it(`${title}: native path, same values as the wasm path`, () => {
      const { native, wasm } = bothPaths(f);
      expect(native.length).toBe(wasm.length);
      expect(relativeError(native, wasm)).toBeLessThan(1e-5);
    });
  }
});
