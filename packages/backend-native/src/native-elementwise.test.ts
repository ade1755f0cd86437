// The addon's SGD step (sgdStep) and bias add (addBias) against the kernels they stand in for on
// the wasm backend: @concord/backend's JavaScript SGD step and tfjs-wasm's broadcasting Add (XNNPACK).
// Both do one or two float32 operations per element, so the bits must be the same; a float64
// reference rounded operation by operation checks the values independently.
import * as tf from "@tensorflow/tfjs-core";
import { nativeKernels, setNativeKernels } from "@concord/backend";
import { createRng, SGD_STEP_KERNEL } from "@concord/core";
import { beforeAll, describe, expect, it } from "vitest";
import { nativeCalls } from "../test/counting-kernels.js";
import { loadNativeKernels } from "./index.js";

function bytesOf(values: Float32Array): Buffer {
  return Buffer.from(values.buffer, values.byteOffset, values.byteLength);
}

/** Runs `compute` with the native kernels switched off (the wasm path), then restores them. */
function withoutNative<T>(compute: () => T): T {
  const installed = nativeKernels();
  setNativeKernels(undefined);
  try {
    return compute();
  } finally {
    setNativeKernels(installed);
  }
}

/** Random floats with the awkward values mixed in: ±0, ±∞, NaN, subnormals, huge values. */
function awkwardArray(size: number, seed: number): Float32Array {
  const rng = createRng(seed);
  const values = Float32Array.from(rng.normalArray(size, 3));
  const special = [0, -0, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, Number.NaN, 1e-42, -3e-40, 3.4e38, -3.4e38];
  for (let i = 0; i < size; i += 7) values[i] = special[(i / 7) % special.length]!;
  return values;
}

describe("native SGD step and bias add", () => {
  beforeAll(async () => {
    expect(await tf.setBackend("wasm")).toBe(true);
    await tf.ready();
  });

  for (const [shape, lr] of [
    [[3, 3, 64, 64], 0.4],
    [[64], 0.4],
    [[7], 1e-3],
    // 37 elements: a vector body and a scalar tail; a learning rate that float32 rounds
    [[37], 0.1],
  ] as [number[], number][]) {
    it(`ConcordSgdStep [${shape}], lr ${lr}: the same bits as the JavaScript kernel and as θ − fround(g·fround(lr))`, () => {
      expect(nativeKernels()?.sgdStep).toBeDefined();
      const size = tf.util.sizeFromShape(shape);
      const param = awkwardArray(size, 1);
      const grad = awkwardArray(size, 2).reverse();
      const before = tf.memory().numTensors;
      const step = () =>
        tf.tidy(
          () =>
            (
              tf.engine().runKernel(SGD_STEP_KERNEL, { param: tf.tensor(param, shape), grad: tf.tensor(grad, shape) }, { lr }) as tf.Tensor
            ).dataSync() as Float32Array,
        );
      const calls = nativeCalls.sgdStep;
      const native = step();
      expect(nativeCalls.sgdStep).toBe(calls + 1);
      const javascript = withoutNative(step);
      expect(nativeCalls.sgdStep).toBe(calls + 1);
      expect(bytesOf(native).equals(bytesOf(javascript))).toBe(true);
      const rate = Math.fround(lr);
      const reference = param.map((p, i) => Math.fround(p - Math.fround(grad[i]! * rate)));
      expect(bytesOf(native).equals(bytesOf(reference))).toBe(true);
      expect(tf.memory().numTensors).toBe(before);
    });
  }

  for (const shape of [
    [5, 28, 28, 64],
    [5, 3, 3, 64],
    [5, 5],
    // channels not a multiple of any vector width
    [2, 3, 3, 7],
    [4, 1],
  ]) {
    it(`tf.add(x [${shape}], bias): the same bits as tfjs-wasm's Add and as fround(x + b)`, () => {
      expect(nativeKernels()?.addBias).toBeDefined();
      const channels = shape[shape.length - 1]!;
      const x = awkwardArray(tf.util.sizeFromShape(shape), 3);
      const bias = Float32Array.from(createRng(4).normalArray(channels, 1));
      bias[0] = -0;
      const before = tf.memory().numTensors;
      const add = () => tf.tidy(() => tf.add(tf.tensor(x, shape), tf.tensor(bias, [channels])).dataSync() as Float32Array);
      const calls = nativeCalls.addBias;
      const native = add();
      expect(nativeCalls.addBias).toBe(calls + 1);
      const wasm = withoutNative(add);
      expect(bytesOf(native).equals(bytesOf(wasm))).toBe(true);
      const reference = x.map((v, i) => Math.fround(v + bias[i % channels]!));
      expect(bytesOf(native).equals(bytesOf(reference))).toBe(true);
      expect(tf.memory().numTensors).toBe(before);
    });
  }

  it("leaves other broadcasts to tfjs-wasm's Add (bias first, a bias over another axis)", () => {
    const calls = nativeCalls.addBias;
    const values = tf.tidy(() => [tf.add(tf.tensor1d([1, 2]), tf.ones([3, 2])).dataSync(), tf.add(tf.ones([2, 3]), tf.tensor2d([[1], [2]])).dataSync()]);
    expect(nativeCalls.addBias).toBe(calls);
    expect(Array.from(values[0]!)).toEqual([2, 3, 2, 3, 2, 3]);
    expect(Array.from(values[1]!)).toEqual([2, 2, 2, 3, 3, 3]);
  });

  it("rejects operands outside the buffer with a JavaScript error", () => {
    const addon = loadNativeKernels();
    const buffer = new ArrayBuffer(64);
    expect(() => addon.sgdStep(buffer, 0, 16, 32, 9, 0.1)).toThrow(/sgdStep: an operand lies outside the buffer/);
    expect(() => addon.sgdStep(buffer, 0, 16, 32, -1, 0.1)).toThrow(/sgdStep/);
    expect(() => addon.addBias(buffer, 0, 32, 48, 2, 4)).toThrow(/addBias: an operand lies outside the buffer/);
    expect(() => addon.addBias(buffer, 0, 48, 32, 2 ** 50, 2 ** 13)).toThrow(/addBias/);
    expect(() => addon.addBias(buffer, 2, 48, 32, 1, 1)).toThrow(/addBias/);
  });
});
