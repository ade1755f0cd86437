// The fused batch-norm kernels against float64 references: the forward from its definition, the
// backward by the textbook chain rule through every intermediate (x − μ, σ², 1/√(σ² + ε), x̂),
// not the kernel's compact formula. Run again by @concord/backend-native with the native kernels.
import * as tf from "@tensorflow/tfjs-core";
import { BATCH_NORM_GRAD_KERNEL, BATCH_NORM_KERNEL, createRng } from "@concord/core";
import { describeEachBackend, relativeError } from "@concord/core/testing";
import { describe, expect, it } from "vitest";
import { type WasmHeapBackend, simdKernels } from "../simd-module.js";

const EPSILON = 1e-3;

interface Reference {
  y: Float64Array;
  dx: Float64Array;
  dScale: Float64Array;
  dOffset: Float64Array;
}

function reference(x: Float32Array, scale: Float32Array, offset: Float32Array, dy: Float32Array, relu: boolean): Reference {
  const channels = scale.length;
  const rows = x.length / channels;
  const at = (r: number, c: number) => r * channels + c;
  const out: Reference = {
    y: new Float64Array(x.length),
    dx: new Float64Array(x.length),
    dScale: new Float64Array(channels),
    dOffset: new Float64Array(channels),
  };
  for (let c = 0; c < channels; c++) {
    let mu = 0;
    for (let r = 0; r < rows; r++) mu += x[at(r, c)]!;
    mu /= rows;
    const centred = Array.from({ length: rows }, (_, r) => x[at(r, c)]! - mu);
    const variance = centred.reduce((sum, v) => sum + v * v, 0) / rows;
    const root = Math.sqrt(variance + EPSILON);
    const inverse = 1 / root;
    const normalised = centred.map((v) => v * inverse);
    const z = normalised.map((v) => scale[c]! * v + offset[c]!);
    z.forEach((v, r) => {
      out.y[at(r, c)] = relu ? Math.max(v, 0) : v;
    });
    // Backward, one intermediate at a time.
    const dz = z.map((v, r) => (relu && v <= 0 ? 0 : dy[at(r, c)]!));
    out.dOffset[c] = dz.reduce((a, b) => a + b, 0);
    out.dScale[c] = dz.reduce((a, v, r) => a + v * normalised[r]!, 0);
    const dNormalised = dz.map((v) => v * scale[c]!);
    const dInverse = dNormalised.reduce((a, v, r) => a + v * centred[r]!, 0);
    const dRoot = (-1 / (root * root)) * dInverse;
    const dVariance = (0.5 / root) * dRoot;
    const dCentred = centred.map((v, r) => dNormalised[r]! * inverse + (2 * v * dVariance) / rows);
    const dMu = -dCentred.reduce((a, b) => a + b, 0);
    dCentred.forEach((v, r) => {
      out.dx[at(r, c)] = v + dMu / rows;
    });
  }
  return out;
}

function run(x: Float32Array, shape: number[], scale: Float32Array, offset: Float32Array, dy: Float32Array, relu: boolean) {
  return tf.tidy(() => {
    const channels = scale.length;
    const inputs = { x: tf.tensor(x, shape), scale: tf.tensor(scale, [channels]), offset: tf.tensor(offset, [channels]) };
    const attrs = { epsilon: EPSILON, relu };
    const y = tf.engine().runKernel(BATCH_NORM_KERNEL, inputs, attrs) as tf.Tensor;
    const [dx, dScale, dOffset] = tf.engine().runKernel(BATCH_NORM_GRAD_KERNEL, { ...inputs, dy: tf.tensor(dy, shape) }, attrs) as unknown as tf.Tensor[];
    expect(y.shape).toEqual(shape);
    expect(dx!.shape).toEqual(shape);
    expect(dScale!.shape).toEqual([channels]);
    expect(dOffset!.shape).toEqual([channels]);
    return { y: y.dataSync(), dx: dx!.dataSync(), dScale: dScale!.dataSync(), dOffset: dOffset!.dataSync() };
  });
}

describeEachBackend("fused batch-norm kernels vs float64 references", () => {
  const shapes = [
    [5, 28, 28, 64],
    [2, 3, 3, 5],
    [1, 1, 1, 3],
  ];
  for (const shape of shapes) {
    for (const relu of [true, false]) {
      it(`x [${shape}], relu ${relu}`, () => {
        const before = tf.memory().numTensors;
        const rng = createRng(shape[0]! * 7 + shape[3]!);
        const size = tf.util.sizeFromShape(shape);
        const channels = shape[3]!;
        // A large common offset: moments must be centred, not E[x²] − E[x]².
        const x = Float32Array.from(rng.normalArray(size, 2).map((v) => v + 30));
        const scale = Float32Array.from(rng.normalArray(channels, 1));
        const offset = Float32Array.from(rng.normalArray(channels, 0.5));
        const dy = Float32Array.from(rng.normalArray(size, 1));
        const got = run(x, shape, scale, offset, dy, relu);
        const want = reference(x, scale, offset, dy, relu);
        expect(relativeError(got.y, want.y)).toBeLessThan(1e-5);
        expect(relativeError(got.dOffset, want.dOffset)).toBeLessThan(1e-5);
        expect(relativeError(got.dScale, want.dScale)).toBeLessThan(1e-5);
        // One value per channel has x̂ = 0 exactly, dx is then pure cancellation: compare to the scale of dx.
        expect(relativeError(got.dx, want.dx)).toBeLessThan(size === channels ? 1e-3 : 1e-4);
        if (relu) expect(got.y.some((v) => v === 0) && got.y.some((v) => v > 0)).toBe(true);
        expect(tf.memory().numTensors).toBe(before);
      });
    }
  }

  it("rejects wrong shapes, dtypes and attributes naming the kernel", () => {
    const before = tf.memory().numTensors;
    tf.tidy(() => {
      const x = tf.zeros([1, 2, 2, 3]);
      const three = tf.ones([3]);
      const run =
        (inputs: Record<string, tf.Tensor>, attrs: Record<string, unknown> = { epsilon: EPSILON, relu: true }) =>
        () =>
          tf.engine().runKernel(BATCH_NORM_KERNEL, inputs, attrs as tf.NamedAttrMap);
      expect(run({ x, scale: tf.ones([2]), offset: three })).toThrow(
        /ConcordBatchNorm: expected float32 x \[N, H, W, C\] \(not empty\), scale and offset \[C\]; got x float32 \[1, 2, 2, 3\], scale float32 \[2\]/,
      );
      expect(run({ x: tf.zeros([2, 3]), scale: three, offset: three })).toThrow(/ConcordBatchNorm: expected/);
      expect(run({ x: tf.zeros([0, 2, 2, 3]), scale: three, offset: three })).toThrow(/not empty\), .*got x float32 \[0, 2, 2, 3\]/);
      expect(run({ x: tf.zeros([1, 2, 2, 3], "int32"), scale: three, offset: three })).toThrow(/x int32/);
      expect(run({ x, scale: three, offset: three }, { epsilon: 0, relu: true })).toThrow(/epsilon > 0, got 0/);
      expect(() =>
        tf.engine().runKernel(BATCH_NORM_GRAD_KERNEL, { x, scale: three, offset: three, dy: tf.zeros([1, 2, 2, 2]) }, { epsilon: EPSILON, relu: false }),
      ).toThrow(/ConcordBatchNormGrad: expected .*dy like x/);
    });
    expect(tf.memory().numTensors).toBe(before);
  });
});

describe("fused batch-norm kernels: the wasm path (SIMD, or native when installed) gives the cpu path's bits", () => {
  for (const [shape, relu] of [
    [[5, 28, 28, 64], true],
    [[2, 5, 3, 7], true],
    [[3, 4, 4, 5], false],
  ] as [number[], boolean][]) {
    it(`x [${shape}], relu ${relu} (odd channel counts take the scalar tail)`, async () => {
      const rng = createRng(shape[3]! + 100);
      const size = tf.util.sizeFromShape(shape);
      const channels = shape[3]!;
      const x = Float32Array.from(rng.normalArray(size, 2).map((v) => v - 3));
      const scale = Float32Array.from(rng.normalArray(channels, 1));
      const offset = Float32Array.from(rng.normalArray(channels, 0.5));
      const dy = Float32Array.from(rng.normalArray(size, 1));
      await tf.setBackend("cpu");
      const cpu = run(x, shape, scale, offset, dy, relu);
      await tf.setBackend("wasm");
      expect(simdKernels(tf.backend() as unknown as WasmHeapBackend)).toBeDefined();
      const wasm = run(x, shape, scale, offset, dy, relu);
      for (const key of ["y", "dx", "dScale", "dOffset"] as const) {
        expect(
          Buffer.from(wasm[key].buffer, wasm[key].byteOffset, wasm[key].byteLength).equals(
            Buffer.from(cpu[key].buffer, cpu[key].byteOffset, cpu[key].byteLength),
          ),
          key,
        ).toBe(true);
      }
    });
  }
});
