// ConcordBatchNormGradGrad (the gradient of ConcordBatchNormGrad in one kernel) against a float64
// reference written from the contract's formulas (centred two-pass moments, x̂, the projection P;
// not the kernel's regrouped coefficients), against the tf-op path it replaces
// (batchNormGradGradients), and where the gradient of ConcordBatchNormGrad runs it: only while no
// gradient tape records kernels. Run again by @concord/backend-native with the native kernels.
import * as tf from "@tensorflow/tfjs-core";
import { createRng } from "@concord/core";
import { describeEachBackend, relativeError } from "@concord/core/testing";
import { describe, expect, it } from "vitest";
import { simdKernels, type WasmHeapBackend } from "../simd-module.js";
import { BATCH_NORM_GRAD_GRAD_KERNEL, BATCH_NORM_KERNEL } from "./contract.js";
import { batchNormGradGradients } from "./gradient.js";

interface Inputs {
  shape: number[];
  x: Float32Array;
  scale: Float32Array;
  offset: Float32Array;
  dy: Float32Array;
  a?: Float32Array | undefined;
  b?: Float32Array | undefined;
  e?: Float32Array | undefined;
  epsilon: number;
  relu: boolean;
}

interface Outputs {
  dX: ArrayLike<number>;
  dScale: ArrayLike<number>;
  dDy: ArrayLike<number>;
}

/** Float64, per channel, from the formulas of BATCH_NORM_GRAD_GRAD_KERNEL's contract. */
function reference({ shape, x, scale, offset, dy, a, b, e, epsilon, relu }: Inputs): Outputs {
  const channels = shape[3]!;
  const rows = x.length / channels;
  const out = { dX: new Float64Array(x.length), dScale: new Float64Array(channels), dDy: new Float64Array(x.length) };
  const mean = (v: number[]) => v.reduce((sum, t) => sum + t, 0) / v.length;
  for (let c = 0; c < channels; c++) {
    const column = (values: Float32Array | undefined) => Array.from({ length: rows }, (_, r) => (values ? values[r * channels + c]! : 0));
    const xs = column(x);
    const mu = mean(xs);
    const s = 1 / Math.sqrt(mean(xs.map((v) => (v - mu) ** 2)) + epsilon);
    const normalised = xs.map((v) => (v - mu) * s);
    const gamma = scale[c]!;
    const mask = normalised.map((v) => (!relu || gamma * v + offset[c]! > 0 ? 1 : 0));
    const g = column(dy).map((v, r) => v * mask[r]!);
    const as = column(a);
    const project = (v: number[]) => {
      const vMean = mean(v);
      const vxMean = mean(v.map((t, r) => t * normalised[r]!));
      return v.map((t, r) => t - vMean - normalised[r]! * vxMean);
    };
    const bc = b ? b[c]! : 0;
    const ec = e ? e[c]! : 0;
    const projectedA = project(as);
    const projectedG = project(g);
    const axMean = mean(as.map((t, r) => t * normalised[r]!));
    const gxMean = mean(g.map((t, r) => t * normalised[r]!));
    const aMean = mean(as);
    const gMean = mean(g);
    const agMean = mean(as.map((t, r) => t * g[r]!));
    out.dScale[c] = s * as.reduce((sum, t, r) => sum + t * projectedG[r]!, 0);
    for (let r = 0; r < rows; r++) {
      const i = r * channels + c;
      out.dDy[i] = mask[r]! * (gamma * s * projectedA[r]! + bc * normalised[r]! + ec);
      const bracket = axMean * (g[r]! - gMean) + gxMean * (as[r]! - aMean) + normalised[r]! * (agMean - aMean * gMean - 3 * axMean * gxMean);
      out.dX[i] = s * bc * projectedG[r]! - gamma * s * s * bracket;
    }
  }
  return out;
}

function randomInputs(shape: number[], seed: number, relu: boolean, epsilon: number, upstreams: { a: boolean; b: boolean; e: boolean }): Inputs {
  const rng = createRng(seed);
  const size = tf.util.sizeFromShape(shape);
  const channels = shape[3]!;
  const floats = (count: number, deviation: number, shift = 0) => Float32Array.from(rng.normalArray(count, deviation).map((v) => v + shift));
  return {
    shape,
    // A common offset: moments must be centred.
    x: floats(size, 2, 7),
    scale: floats(channels, 1),
    offset: floats(channels, 0.5),
    dy: floats(size, 1),
    a: upstreams.a ? floats(size, 1) : undefined,
    b: upstreams.b ? floats(channels, 1) : undefined,
    e: upstreams.e ? floats(channels, 1) : undefined,
    epsilon,
    relu,
  };
}

function tensors(inputs: Inputs) {
  const channels = inputs.shape[3]!;
  const optional = (values: Float32Array | undefined, shape: number[]) => (values ? tf.tensor(values, shape) : null);
  return {
    x: tf.tensor(inputs.x, inputs.shape),
    scale: tf.tensor(inputs.scale, [channels]),
    offset: tf.tensor(inputs.offset, [channels]),
    dy: tf.tensor(inputs.dy, inputs.shape),
    upstream: [optional(inputs.a, inputs.shape), optional(inputs.b, [channels]), optional(inputs.e, [channels])],
  };
}

function runKernel(inputs: Inputs): { dX: Float32Array; dScale: Float32Array; dDy: Float32Array } {
  return tf.tidy(() => {
    const { x, scale, offset, dy, upstream } = tensors(inputs);
    const [a, b, e] = upstream;
    const named: tf.NamedTensorMap = { x, scale, offset, dy, ...(a ? { a } : {}), ...(b ? { b } : {}), ...(e ? { e } : {}) };
    const outputs = tf.engine().runKernel(BATCH_NORM_GRAD_GRAD_KERNEL, named, { epsilon: inputs.epsilon, relu: inputs.relu }) as unknown as tf.Tensor[];
    expect(outputs.map((t) => t.shape)).toEqual([inputs.shape, [inputs.shape[3]], inputs.shape]);
    const [dX, dScale, dDy] = outputs.map((t) => t.dataSync() as Float32Array);
    return { dX: dX!, dScale: dScale!, dDy: dDy! };
  });
}

function runTfOps(inputs: Inputs): Outputs {
  return tf.tidy(() => {
    const { x, scale, offset, dy, upstream } = tensors(inputs);
    const got = batchNormGradGradients(x, scale, offset, dy, upstream, { epsilon: inputs.epsilon, relu: inputs.relu });
    return { dX: got.x.dataSync(), dScale: got.scale.dataSync(), dDy: got.dy.dataSync() };
  });
}

const ALL = { a: true, b: true, e: true };
const CASES: { shape: number[]; relu: boolean; epsilon: number; upstreams: { a: boolean; b: boolean; e: boolean } }[] = [
  { shape: [5, 28, 28, 64], relu: true, epsilon: 1e-3, upstreams: ALL },
  { shape: [3, 7, 7, 5], relu: false, epsilon: 1e-3, upstreams: ALL },
  { shape: [2, 3, 3, 7], relu: true, epsilon: 1e-5, upstreams: ALL },
  { shape: [4, 5, 5, 1], relu: true, epsilon: 1, upstreams: ALL },
  { shape: [1, 1, 1, 6], relu: true, epsilon: 1e-3, upstreams: ALL },
  { shape: [1, 1, 1, 1], relu: false, epsilon: 1e-5, upstreams: ALL },
  { shape: [2, 4, 4, 6], relu: true, epsilon: 1e-3, upstreams: { a: true, b: false, e: false } },
  { shape: [2, 4, 4, 6], relu: true, epsilon: 1e-3, upstreams: { a: false, b: true, e: true } },
  { shape: [2, 4, 4, 6], relu: false, epsilon: 1e-3, upstreams: { a: false, b: false, e: true } },
  { shape: [2, 4, 4, 6], relu: false, epsilon: 1e-3, upstreams: { a: false, b: false, e: false } },
];

const label = ({ shape, relu, epsilon, upstreams }: (typeof CASES)[number]) =>
  `x [${shape}], relu ${relu}, ε ${epsilon}, upstreams ${(["a", "b", "e"] as const).filter((k) => upstreams[k]).join("") || "none"}`;

describeEachBackend("ConcordBatchNormGradGrad", () => {
  CASES.forEach((c, index) => {
    it(`${label(c)}: matches the float64 reference and the tf-op path`, () => {
      const inputs = randomInputs(c.shape, 300 + index, c.relu, c.epsilon, c.upstreams);
      const before = tf.memory().numTensors;
      const got = runKernel(inputs);
      const want = reference(inputs);
      const ops = runTfOps(inputs);
      // dX is a difference of terms of similar size (cancellation): compared to the scale of dX.
      expect(relativeError(got.dX, want.dX), "dX").toBeLessThan(1e-4);
      expect(relativeError(got.dScale, want.dScale), "dScale").toBeLessThan(1e-5);
      expect(relativeError(got.dDy, want.dDy), "dDy").toBeLessThan(1e-5);
      expect(relativeError(got.dX, ops.dX), "dX vs tf ops").toBeLessThan(2e-4);
      expect(relativeError(got.dScale, ops.dScale), "dScale vs tf ops").toBeLessThan(1e-4);
      expect(relativeError(got.dDy, ops.dDy), "dDy vs tf ops").toBeLessThan(1e-4);
      // Not vacuous: the outputs the given upstreams feed are far from zero.
      const largest = (values: ArrayLike<number>) => Array.from(values).reduce((m, v) => Math.max(m, Math.abs(v)), 0);
      if (c.upstreams.a || c.upstreams.b || c.upstreams.e) expect(largest(got.dDy)).toBeGreaterThan(1e-2);
      else expect(largest(got.dDy) + largest(got.dX) + largest(got.dScale)).toBe(0);
      if ((c.upstreams.a || c.upstreams.b) && c.shape[0]! * c.shape[1]! * c.shape[2]! > 1) expect(largest(got.dX)).toBeGreaterThan(1e-3);
      // Deterministic: the same bits again.
      const again = runKernel(inputs);
      for (const key of ["dX", "dScale", "dDy"] as const) expect(Buffer.from(again[key].buffer).equals(Buffer.from(got[key].buffer)), key).toBe(true);
      expect(tf.memory().numTensors).toBe(before);
    });
  });

  it("rejects wrong upstreams and attributes, naming the kernel", () => {
    const before = tf.memory().numTensors;
    tf.tidy(() => {
      const x = tf.zeros([1, 2, 2, 3]);
      const three = tf.ones([3]);
      const run =
        (extra: Record<string, tf.Tensor>, attrs: Record<string, unknown> = { epsilon: 1e-3, relu: true }) =>
        () =>
          tf.engine().runKernel(BATCH_NORM_GRAD_GRAD_KERNEL, { x, scale: three, offset: three, dy: x, ...extra }, attrs as tf.NamedAttrMap);
      expect(run({ a: tf.zeros([1, 2, 2, 2]) })).toThrow(
        /^ConcordBatchNormGradGrad: expected float32 upstreams a like x, b and e \[C\] \(each optional\); got a float32 \[1, 2, 2, 2\], b absent, e absent/,
      );
      expect(run({ b: tf.ones([2]) })).toThrow(/ConcordBatchNormGradGrad: .*b float32 \[2\]/);
      expect(run({ e: tf.ones([3], "int32") })).toThrow(/ConcordBatchNormGradGrad: .*e int32 \[3\]/);
      expect(run({ dy: tf.zeros([1, 2, 2, 2]) })).toThrow(/ConcordBatchNormGradGrad: expected .*dy like x/);
      expect(run({}, { epsilon: 0, relu: true })).toThrow(/ConcordBatchNormGradGrad: expected attribute epsilon > 0, got 0/);
    });
    expect(tf.memory().numTensors).toBe(before);
  });

  it("has no gradient: differentiating through it throws an error naming it", () => {
    const inputs = randomInputs([1, 2, 2, 3], 7, true, 1e-3, ALL);
    tf.tidy(() => {
      const { x, scale, offset, dy, upstream } = tensors(inputs);
      const f = (input: tf.Tensor) =>
        tf.sum(
          (
            tf
              .engine()
              .runKernel(BATCH_NORM_GRAD_GRAD_KERNEL, { x: input, scale, offset, dy, a: upstream[0]! }, { epsilon: 1e-3, relu: true }) as unknown as tf.Tensor[]
          )[0]!,
        ) as tf.Scalar;
      expect(() => tf.grad(f)(x)).toThrow(/ConcordBatchNormGradGrad/);
    });
    // No numTensors check: tfjs keeps the tape's saved tensors when backpropagation throws.
  });

  it("the gradient of ConcordBatchNormGrad runs it only while no tape records kernels (so third order stays exact)", async () => {
    const inputs = randomInputs([2, 3, 3, 4], 8, true, 1e-3, ALL);
    const before = tf.memory().numTensors;
    const w = tf.tensor(Float32Array.from(createRng(9).normalArray(inputs.x.length, 1)), inputs.shape);
    const attrs = { epsilon: inputs.epsilon, relu: inputs.relu };
    const { x, scale, offset } = tf.tidy(() => {
      const { x, scale, offset } = tensors(inputs);
      return { x, scale, offset };
    });
    // ∇ over x of Σ w·∂/∂x(Σ bn(x)²): the gradient of ConcordBatchNormGrad, at the top level or one tape deeper.
    const secondOrder = (input: tf.Tensor) =>
      tf.sum(
        tf.mul(
          w,
          tf.grad((t: tf.Tensor) => tf.sum(tf.square(tf.engine().runKernel(BATCH_NORM_KERNEL, { x: t, scale, offset }, attrs) as tf.Tensor)) as tf.Scalar)(
            input,
          ),
        ),
      ) as tf.Scalar;
    // The kernel, wrapped to record the tape depth of each call (the engine's gradientDepth).
    const backendName = tf.getBackend();
    const config = tf.getKernel(BATCH_NORM_GRAD_GRAD_KERNEL, backendName)!;
    const depths: number[] = [];
    tf.unregisterKernel(BATCH_NORM_GRAD_GRAD_KERNEL, backendName);
    tf.registerKernel({
      ...config,
      kernelFunc: (args) => {
        depths.push((tf.engine() as unknown as { state: { gradientDepth: number } }).state.gradientDepth);
        return config.kernelFunc(args);
      },
    });
    try {
      const second = tf.tidy(() => tf.grad(secondOrder)(x).dataSync());
      expect(depths).toEqual([0]);
      // Third order: the middle backward pass is recorded, so it runs tf ops (differentiable); the
      // outermost one runs the kernel again. The middle pass's value equals the kernel's above.
      depths.length = 0;
      let middle: Float32Array | undefined;
      const third = tf.tidy(() =>
        tf
          .grad((t: tf.Tensor) => {
            const g = tf.grad(secondOrder)(t);
            middle = g.dataSync() as Float32Array;
            return tf.sum(tf.square(g)) as tf.Scalar;
          })(x)
          .dataSync(),
      );
      expect(depths.length).toBeGreaterThan(0);
      expect(depths.every((depth) => depth === 0)).toBe(true);
      expect(relativeError(middle!, second)).toBeLessThan(1e-4);
      expect(third.every(Number.isFinite) && third.some((v) => v !== 0)).toBe(true);
    } finally {
      tf.unregisterKernel(BATCH_NORM_GRAD_GRAD_KERNEL, backendName);
      tf.registerKernel(config);
    }
    tf.dispose([w, x, scale, offset]);
    expect(tf.memory().numTensors).toBe(before);
  });
});

describe("ConcordBatchNormGradGrad: the wasm path (SIMD, or native when installed) gives the cpu path's bits", () => {
  for (const [shape, relu, upstreams] of [
    [[5, 28, 28, 64], true, ALL],
    [[2, 5, 3, 7], true, ALL],
    [[3, 4, 4, 5], false, ALL],
    [[2, 3, 3, 3], true, { a: true, b: false, e: false }],
    [[2, 3, 3, 6], true, { a: false, b: true, e: true }],
    [[1, 1, 1, 1], true, { a: false, b: false, e: false }],
  ] as [number[], boolean, { a: boolean; b: boolean; e: boolean }][]) {
    it(`x [${shape}], relu ${relu}, upstreams ${JSON.stringify(upstreams)} (odd channel counts take the scalar tail)`, async () => {
      const inputs = randomInputs(shape, shape[3]! + 500, relu, 1e-3, upstreams);
      await tf.setBackend("cpu");
      const cpu = runKernel(inputs);
      await tf.setBackend("wasm");
      expect(simdKernels(tf.backend() as unknown as WasmHeapBackend)).toBeDefined();
      const wasm = runKernel(inputs);
      for (const key of ["dX", "dScale", "dDy"] as const) expect(Buffer.from(wasm[key].buffer).equals(Buffer.from(cpu[key].buffer)), key).toBe(true);
    });
  }
});
