// The addon's fused batch norm (batchNorm, batchNormGrad, batchNormGradGrad) against @concord/backend's
// JavaScript kernels on the wasm backend: the same double arithmetic element for element, so
// bit-identical. (The float64 references, the tf-op path of the second-order gradient and the
// finite-difference gradients run again with the native kernels through ../backend's
// kernels/batch-norm/*.test.ts.)
import * as tf from "@tensorflow/tfjs-core";
import { nativeKernels, setNativeKernels } from "@concord/backend";
import { BATCH_NORM_GRAD_KERNEL, BATCH_NORM_KERNEL, createRng } from "@concord/core";

/** @concord/backend's second-order batch-norm kernel (named in its batch-norm contract, not in core). */
const BATCH_NORM_GRAD_GRAD_KERNEL = "ConcordBatchNormGradGrad";
import { beforeAll, describe, expect, it } from "vitest";
import { nativeCalls } from "../test/counting-kernels.js";
import { loadNativeKernels } from "./index.js";

function kernels(shape: number[], relu: boolean, seed: number): Float32Array[] {
  const rng = createRng(seed);
  const channels = shape[3]!;
  return tf.tidy(() => {
    const x = tf.tensor(
      rng.normalArray(tf.util.sizeFromShape(shape), 3).map((v) => v - 5),
      shape,
    );
    const scale = tf.tensor(rng.normalArray(channels, 1), [channels]);
    const offset = tf.tensor(rng.normalArray(channels, 0.5), [channels]);
    const dy = tf.tensor(rng.normalArray(tf.util.sizeFromShape(shape), 1), shape);
    const attrs = { epsilon: 1e-3, relu };
    const y = tf.engine().runKernel(BATCH_NORM_KERNEL, { x, scale, offset }, attrs) as tf.Tensor;
    const grads = tf.engine().runKernel(BATCH_NORM_GRAD_KERNEL, { x, scale, offset, dy }, attrs) as unknown as tf.Tensor[];
    return [y, ...grads].map((t) => t.dataSync() as Float32Array);
  });
}

describe("native fused batch norm", () => {
  beforeAll(async () => {
    expect(await tf.setBackend("wasm")).toBe(true);
    await tf.ready();
  });

  for (const [shape, relu] of [
    [[5, 28, 28, 64], true],
    [[5, 28, 28, 64], false],
    [[3, 7, 7, 5], true],
    // channels not a multiple of the addon's four lanes: 3, 2 and 1 left for the scalar loop, or no full quad
    [[2, 3, 3, 7], true],
    [[2, 3, 3, 6], false],
    [[4, 5, 5, 3], true],
    // large enough to be shared out in chunks of 16 channels, the last one partial (70 = 4·16 + 6)
    [[1, 40, 25, 70], true],
  ] as [number[], boolean][]) {
    it(`x [${shape}], relu ${relu}: bit-identical to the JavaScript kernels`, () => {
      const installed = nativeKernels();
      expect(installed?.batchNorm).toBeDefined();
      const before = tf.memory().numTensors;
      const calls = [nativeCalls.batchNorm, nativeCalls.batchNormGrad];
      const native = kernels(shape, relu, 5);
      expect([nativeCalls.batchNorm, nativeCalls.batchNormGrad]).toEqual([calls[0]! + 1, calls[1]! + 1]);
      setNativeKernels(undefined);
      try {
        const javascript = kernels(shape, relu, 5);
        native.forEach((values, i) => {
          expect(values.length).toBe(javascript[i]!.length);
          expect(
            Buffer.from(values.buffer, values.byteOffset, values.byteLength).equals(
              Buffer.from(javascript[i]!.buffer, javascript[i]!.byteOffset, javascript[i]!.byteLength),
            ),
          ).toBe(true);
        });
      } finally {
        setNativeKernels(installed);
      }
      expect(tf.memory().numTensors).toBe(before);
    });
  }

  it("reuses the forward kernel's moments in the backward kernel of the same x and ε, with the same bits as without", () => {
    const shape = [5, 14, 14, 64];
    const rng = createRng(21);
    const before = tf.memory().numTensors;
    const run = (epsilonForward: number, epsilonBackward: number, forwardFirst: boolean) =>
      tf.tidy(() => {
        const x = tf.tensor(rng.normalArray(tf.util.sizeFromShape(shape), 2), shape);
        const scale = tf.tensor(rng.normalArray(64, 1), [64]);
        const offset = tf.tensor(rng.normalArray(64, 0.5), [64]);
        const dy = tf.tensor(rng.normalArray(tf.util.sizeFromShape(shape), 1), shape);
        if (forwardFirst) tf.engine().runKernel(BATCH_NORM_KERNEL, { x, scale, offset }, { epsilon: epsilonForward, relu: true });
        const reused = nativeCalls.batchNormGradFromMoments;
        const grads = tf
          .engine()
          .runKernel(BATCH_NORM_GRAD_KERNEL, { x, scale, offset, dy }, { epsilon: epsilonBackward, relu: true }) as unknown as tf.Tensor[];
        const values = grads.map((t) => t.dataSync() as Float32Array);
        // The same x again through the JavaScript kernel (no native kernels, no moments): the reference bits.
        const installed = nativeKernels();
        setNativeKernels(undefined);
        try {
          const reference = (
            tf.engine().runKernel(BATCH_NORM_GRAD_KERNEL, { x, scale, offset, dy }, { epsilon: epsilonBackward, relu: true }) as unknown as tf.Tensor[]
          ).map((t) => t.dataSync() as Float32Array);
          values.forEach((v, i) =>
            expect(
              Buffer.from(v.buffer, v.byteOffset, v.byteLength).equals(Buffer.from(reference[i]!.buffer, reference[i]!.byteOffset, reference[i]!.byteLength)),
            ).toBe(true),
          );
        } finally {
          setNativeKernels(installed);
        }
        return nativeCalls.batchNormGradFromMoments - reused;
      });
    expect(run(1e-3, 1e-3, true)).toBe(1);
    // another ε, or no forward pass of this x: the kernel computes the moments itself
    expect(run(1e-3, 1e-5, true)).toBe(0);
    expect(run(1e-3, 1e-3, false)).toBe(0);
    expect(tf.memory().numTensors).toBe(before);
  });

  it("with attribute groups, calls the addon once per block and reuses each block's forward moments (views of one array), with the JavaScript kernels' bits", () => {
    const [groups, shape] = [4, [4 * 3, 6, 6, 9]];
    const rng = createRng(22);
    const before = tf.memory().numTensors;
    const attrs = { epsilon: 1e-3, relu: true, groups };
    const x = tf.tensor(rng.normalArray(tf.util.sizeFromShape(shape), 2), shape);
    const [scale, offset] = [tf.tensor(rng.normalArray(groups * 9, 1), [groups, 9]), tf.tensor(rng.normalArray(groups * 9, 0.5), [groups, 9])];
    const dy = tf.tensor(rng.normalArray(tf.util.sizeFromShape(shape), 1), shape);
    const outputs = () =>
      tf.tidy(() => {
        const y = tf.engine().runKernel(BATCH_NORM_KERNEL, { x, scale, offset }, attrs) as tf.Tensor;
        const grads = tf.engine().runKernel(BATCH_NORM_GRAD_KERNEL, { x, scale, offset, dy }, attrs) as unknown as tf.Tensor[];
        const gradGrads = tf.engine().runKernel(BATCH_NORM_GRAD_GRAD_KERNEL, { x, scale, offset, dy, a: dy }, attrs) as unknown as tf.Tensor[];
        return [y, ...grads, ...gradGrads].map((t) => t.dataSync() as Float32Array);
      });
    const calls = [nativeCalls.batchNorm, nativeCalls.batchNormGrad, nativeCalls.batchNormGradFromMoments, nativeCalls.batchNormGradGrad];
    const native = outputs();
    expect([nativeCalls.batchNorm, nativeCalls.batchNormGrad, nativeCalls.batchNormGradFromMoments, nativeCalls.batchNormGradGrad]).toEqual(
      calls.map((count) => count! + groups),
    );
    const installed = nativeKernels();
    setNativeKernels(undefined);
    try {
      const javascript = outputs();
      native.forEach((values, i) =>
        expect(
          Buffer.from(values.buffer, values.byteOffset, values.byteLength).equals(
            Buffer.from(javascript[i]!.buffer, javascript[i]!.byteOffset, javascript[i]!.byteLength),
          ),
          `output ${i}`,
        ).toBe(true),
      );
    } finally {
      setNativeKernels(installed);
    }
    tf.dispose([x, scale, offset, dy]);
    expect(tf.memory().numTensors).toBe(before);
  });

  it("refuses a moments argument of the wrong kind or length", () => {
    const addon = loadNativeKernels();
    const buffer = new ArrayBuffer(4 * 64);
    // x [4, 2] at 0, scale at 32, offset at 40, out/dy at 48, dx at 80, dScale 112, dOffset 120
    expect(() => addon.batchNorm(buffer, 0, 32, 40, 48, 4, 2, 1e-3, 1, new Float64Array(3))).toThrow(/moments/);
    expect(() => addon.batchNorm(buffer, 0, 32, 40, 48, 4, 2, 1e-3, 1, new Float32Array(4) as unknown as Float64Array)).toThrow(/moments/);
    expect(() => addon.batchNormGrad(buffer, 0, 32, 40, 48, 80, 112, 120, 4, 2, 1e-3, 1, new Float64Array(5))).toThrow(/moments/);
    const moments = new Float64Array(4);
    addon.batchNorm(buffer, 0, 32, 40, 48, 4, 2, 1e-3, 1, moments);
    expect(Array.from(moments)).toEqual([0, 0, 1 / Math.sqrt(1e-3), 1 / Math.sqrt(1e-3)]);
  });

  it("gives the same bits with 1 and 2 addon threads (70 channels: four-lane quads and a remainder)", () => {
    const addon = loadNativeKernels();
    const rows = 3920;
    const channels = 70;
    const rng = createRng(11);
    const elements = rows * channels;
    // x, dy, then outputs y, dx, and scale, offset, dScale, dOffset
    const buffer = new ArrayBuffer((4 * elements + 4 * channels) * 4);
    const f32 = new Float32Array(buffer);
    f32.set(rng.normalArray(elements, 2), 0);
    f32.set(rng.normalArray(elements, 1), elements);
    f32.set(rng.normalArray(channels, 1), 4 * elements);
    f32.set(rng.normalArray(channels, 0.5), 4 * elements + channels);
    const at = (floats: number) => floats * 4;
    const results = [1, 2].map((threads) => {
      addon.setThreads(threads);
      f32.fill(Number.NaN, 2 * elements, 4 * elements);
      addon.batchNorm(buffer, 0, at(4 * elements), at(4 * elements + channels), at(2 * elements), rows, channels, 1e-3, 1);
      addon.batchNormGrad(
        buffer,
        0,
        at(4 * elements),
        at(4 * elements + channels),
        at(elements),
        at(3 * elements),
        at(4 * elements + 2 * channels),
        at(4 * elements + 3 * channels),
        rows,
        channels,
        1e-3,
        1,
      );
      return Buffer.from(f32.slice(2 * elements).buffer);
    });
    addon.setThreads(2);
    expect(results[0]!.includes(Buffer.from(new Float32Array([Number.NaN]).buffer))).toBe(false);
    expect(results[1]!.equals(results[0]!)).toBe(true);
  });

  /** ConcordBatchNormGradGrad's outputs for random inputs; `forwardFirst`: run ConcordBatchNorm of the same x first (its moments are kept). */
  function gradGrad(shape: number[], relu: boolean, upstreams: string, seed: number, forwardFirst = false): Float32Array[] {
    const rng = createRng(seed);
    const channels = shape[3]!;
    const size = tf.util.sizeFromShape(shape);
    return tf.tidy(() => {
      const x = tf.tensor(
        rng.normalArray(size, 3).map((v) => v - 5),
        shape,
      );
      const scale = tf.tensor(rng.normalArray(channels, 1), [channels]);
      const offset = tf.tensor(rng.normalArray(channels, 0.5), [channels]);
      const dy = tf.tensor(rng.normalArray(size, 1), shape);
      const attrs = { epsilon: 1e-3, relu };
      if (forwardFirst) tf.engine().runKernel(BATCH_NORM_KERNEL, { x, scale, offset }, attrs);
      const inputs: tf.NamedTensorMap = { x, scale, offset, dy };
      if (upstreams.includes("a")) inputs["a"] = tf.tensor(rng.normalArray(size, 1), shape);
      if (upstreams.includes("b")) inputs["b"] = tf.tensor(rng.normalArray(channels, 1), [channels]);
      if (upstreams.includes("e")) inputs["e"] = tf.tensor(rng.normalArray(channels, 1), [channels]);
      const outputs = tf.engine().runKernel(BATCH_NORM_GRAD_GRAD_KERNEL, inputs, attrs) as unknown as tf.Tensor[];
      return outputs.map((t) => t.dataSync() as Float32Array);
    });
  }

  const sameBits = (a: Float32Array, b: Float32Array) =>
    Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));

  for (const [shape, relu, upstreams] of [
    [[5, 28, 28, 64], true, "abe"],
    [[5, 28, 28, 64], false, "abe"],
    [[2, 3, 3, 7], true, "abe"],
    [[4, 5, 5, 3], true, "a"],
    [[3, 4, 4, 6], false, "be"],
    [[1, 1, 1, 5], true, "abe"],
    [[2, 2, 2, 1], true, ""],
  ] as [number[], boolean, string][]) {
    it(`second order, x [${shape}], relu ${relu}, upstreams "${upstreams}": bit-identical to the JavaScript kernel, with and without the forward's moments`, () => {
      const installed = nativeKernels();
      expect(installed?.batchNormGradGrad).toBeDefined();
      const before = tf.memory().numTensors;
      const calls = nativeCalls.batchNormGradGrad;
      const native = gradGrad(shape, relu, upstreams, 9);
      const fromMoments = gradGrad(shape, relu, upstreams, 9, true);
      expect(nativeCalls.batchNormGradGrad).toBe(calls + 2);
      setNativeKernels(undefined);
      try {
        const javascript = gradGrad(shape, relu, upstreams, 9);
        native.forEach((values, i) => {
          expect(values.length).toBe(javascript[i]!.length);
          expect(sameBits(values, javascript[i]!), `output ${i}`).toBe(true);
          expect(sameBits(fromMoments[i]!, javascript[i]!), `output ${i} from the forward's moments`).toBe(true);
        });
        if (upstreams !== "") expect(native[2]!.some((v) => v !== 0)).toBe(true);
      } finally {
        setNativeKernels(installed);
      }
      expect(tf.memory().numTensors).toBe(before);
    });
  }

  it("second order: the kernel takes the forward's moments of the same x and ε", () => {
    const received: unknown[] = [];
    const installed = nativeKernels()!;
    setNativeKernels({
      ...installed,
      batchNormGradGrad: (...args: Parameters<NonNullable<typeof installed.batchNormGradGrad>>) => {
        received.push(args[15]);
        return installed.batchNormGradGrad!(...args);
      },
    });
    try {
      gradGrad([2, 3, 3, 4], true, "abe", 3, true);
      gradGrad([2, 3, 3, 4], true, "abe", 3, false);
    } finally {
      setNativeKernels(installed);
    }
    expect(received[0]).toBeInstanceOf(Float64Array);
    expect(received[1]).toBeUndefined();
  });

  it("second order: refuses operands outside the buffer, a bad absent marker and bad moments", () => {
    const addon = loadNativeKernels();
    const buffer = new ArrayBuffer(64 * 4);
    // x [4, 2] at 0, scale 32, offset 40, dy 48, a 80, b 112, e 120, dX 128, dScale 160, dDy 168
    const call = (overrides: Record<number, number>, moments?: Float64Array) => () => {
      const args = [0, 32, 40, 48, 80, 112, 120, 128, 160, 168, 4, 2];
      for (const [index, value] of Object.entries(overrides)) args[Number(index)] = value;
      const [x, scale, offset, dy, a, b, e, dX, dScale, dDy, rows, channels] = args as [
        number,
        number,
        number,
        number,
        number,
        number,
        number,
        number,
        number,
        number,
        number,
        number,
      ];
      addon.batchNormGradGrad(buffer, x, scale, offset, dy, a, b, e, dX, dScale, dDy, rows, channels, 1e-3, 1, moments);
    };
    expect(call({})).not.toThrow();
    expect(call({ 4: -1, 5: -1, 6: -1 })).not.toThrow();
    expect(call({ 4: -2 })).toThrow(/batchNormGradGrad: an operand lies outside the buffer \(a, b, e: −1 when absent\)/);
    expect(call({ 9: 4 * 60 })).toThrow(/batchNormGradGrad: an operand lies outside the buffer/);
    expect(call({ 10: 0 })).toThrow(/rows\/channels < 1/);
    expect(call({}, new Float64Array(3))).toThrow(/moments/);
  });

  it("refuses operands outside the buffer and bad sizes", () => {
    const addon = loadNativeKernels();
    const buffer = new ArrayBuffer(64 * 4);
    expect(() => addon.batchNorm(buffer, 0, 0, 0, 0, 65, 1, 1e-3, 1)).toThrow(/batchNorm: an operand lies outside the buffer/);
    expect(() => addon.batchNorm(buffer, 0, 0, 0, 0, 0, 1, 1e-3, 1)).toThrow(/rows\/channels < 1/);
    expect(() => addon.batchNorm(buffer, 0, 0, 0, 0, 4, 4, 0, 1)).toThrow(/epsilon/);
    expect(() => addon.batchNormGrad(buffer, 0, 0, 0, 0, 4 * 60, 0, 0, 4, 4, 1e-3, 0)).toThrow(/batchNormGrad: an operand lies outside the buffer/);
  });
});
