// The three cross-entropy kernels on random shapes (rows 1 … 40, C 1 … 20, logits up to ±80, rows of
// equal logits) against an independent float64 reference (unshifted log Σ exp, the softmax Jacobian
// written out) and against the tf-op forms they replace; their input checks; determinism; no leaks.
// Run again by @concord/backend-native with the native kernels installed (wasm).
import * as tf from "@tensorflow/tfjs-core";
import { createRng } from "@concord/core";
import { describeEachBackend, relativeError } from "@concord/core/testing";
import { expect, it } from "vitest";
import { SOFTMAX_CROSS_ENTROPY_GRAD_GRAD_KERNEL, SOFTMAX_CROSS_ENTROPY_GRAD_KERNEL, SOFTMAX_CROSS_ENTROPY_KERNEL } from "./contract.js";
import { softmaxCrossEntropyGradGradients } from "./gradient.js";

interface Case {
  shape: number[];
  logits: Float32Array;
  labels: Int32Array;
  dy: Float32Array;
  upstream: Float32Array;
}

/** A random case: rows of random scale (up to ±80), some rows all equal, some with repeated maxima. */
function randomCase(seed: number, shape: number[]): Case {
  const rng = createRng(seed);
  const classes = shape[shape.length - 1]!;
  const rows = tf.util.sizeFromShape(shape) / classes;
  const logits = new Float32Array(rows * classes);
  for (let r = 0; r < rows; r++) {
    const kind = rng.int(4);
    const scale = [1, 10, 80, 0][kind]!;
    const base = rng.uniform(-80, 80) * (kind === 3 ? 1 : 0);
    for (let c = 0; c < classes; c++) logits[r * classes + c] = kind === 3 ? base : Math.max(-80, Math.min(80, rng.normal() * scale));
    if (kind === 1 && classes > 1) logits[r * classes + 1] = logits[r * classes]!; // a tied maximum candidate
  }
  return {
    shape,
    logits,
    labels: Int32Array.from({ length: rows }, () => rng.int(classes)),
    dy: Float32Array.from(rng.normalArray(rows, 1)),
    upstream: Float32Array.from(rng.normalArray(rows * classes, 1)),
  };
}

/** Float64 reference, written independently of reference.ts: unshifted log Σ exp (fine in float64 for |z| ≤ 80). */
function float64Reference({ logits, labels, dy, upstream }: Case, classes: number) {
  const rows = labels.length;
  const loss = new Float64Array(rows);
  const grad = new Float64Array(rows * classes);
  const gradGradLogits = new Float64Array(rows * classes);
  const gradGradDy = new Float64Array(rows);
  for (let r = 0; r < rows; r++) {
    const z = Array.from(logits.subarray(r * classes, (r + 1) * classes));
    const total = z.reduce((s, value) => s + Math.exp(value), 0);
    const p = z.map((value) => Math.exp(value) / total);
    const y = labels[r]!;
    loss[r] = Math.log(total) - z[y]!;
    const v = Array.from(upstream.subarray(r * classes, (r + 1) * classes));
    for (let k = 0; k < classes; k++) {
      grad[r * classes + k] = dy[r]! * (p[k]! - (k === y ? 1 : 0));
      // ∂/∂z_k of u·Σ_c v_c (p_c − onehot_c), with ∂p_c/∂z_k = p_c (δ_ck − p_k).
      let jacobian = 0;
      for (let c = 0; c < classes; c++) jacobian += v[c]! * p[c]! * ((c === k ? 1 : 0) - p[k]!);
      gradGradLogits[r * classes + k] = dy[r]! * jacobian;
      gradGradDy[r]! += v[k]! * (p[k]! - (k === y ? 1 : 0));
    }
  }
  return { loss, grad, gradGradLogits, gradGradDy };
}

const tensors = (c: Case) => ({
  logits: tf.tensor(c.logits, c.shape),
  labels: tf.tensor(c.labels, c.shape.slice(0, -1), "int32"),
  dy: tf.tensor(c.dy, c.shape.slice(0, -1)),
  upstream: tf.tensor(c.upstream, c.shape),
});

const forward = (logits: tf.Tensor, labels: tf.Tensor) => tf.engine().runKernel(SOFTMAX_CROSS_ENTROPY_KERNEL, { logits, labels }) as tf.Tensor;
const backward = (logits: tf.Tensor, labels: tf.Tensor, dy: tf.Tensor) =>
  tf.engine().runKernel(SOFTMAX_CROSS_ENTROPY_GRAD_KERNEL, { logits, labels, dy }) as tf.Tensor;
const gradGrad = (logits: tf.Tensor, labels: tf.Tensor, dy: tf.Tensor, upstream: tf.Tensor) =>
  tf.engine().runKernel(SOFTMAX_CROSS_ENTROPY_GRAD_GRAD_KERNEL, { logits, labels, dy, upstream }) as unknown as [tf.Tensor, tf.Tensor];

/** The tf-op cross-entropy the kernel replaces (@concord/models' form without the kernel). */
function opsLoss(logits: tf.Tensor, labels: tf.Tensor): tf.Tensor {
  const last = logits.rank - 1;
  const shift = tf.max(logits, last, true);
  const logSumExp = tf.add(tf.log(tf.sum(tf.exp(tf.sub(logits, shift)), last)), tf.squeeze(shift, [last]));
  return tf.sub(logSumExp, tf.sum(tf.mul(logits, tf.cast(tf.oneHot(labels, logits.shape[last]!), "float32")), last));
}

/** Each value within one float32 rounding (and a float64 absolute error) of the float64 one. */
function expectRoundedFrom(actual: tf.Tensor, expected: Float64Array, what: string): void {
  const values = actual.dataSync();
  expect(values.length, what).toBe(expected.length);
  for (let i = 0; i < expected.length; i++) {
    const tolerance = 1.2e-7 * Math.abs(expected[i]!) + 1e-13;
    if (!(Math.abs(values[i]! - expected[i]!) <= tolerance)) expect.fail(`${what}[${i}]: ${values[i]} against float64 ${expected[i]}`);
  }
}

const SHAPES = [
  [1, 1],
  [1, 5],
  [5, 5],
  [3, 20],
  [40, 7],
  [2, 4, 3],
  [3, 5, 5],
  [7, 1],
  [2, 3, 2, 13],
];

describeEachBackend("cross-entropy kernels", () => {
  it("are registered with the loss's and the gradient kernel's gradients (vitest.setup.ts installs Concord)", () => {
    for (const name of [SOFTMAX_CROSS_ENTROPY_KERNEL, SOFTMAX_CROSS_ENTROPY_GRAD_KERNEL, SOFTMAX_CROSS_ENTROPY_GRAD_GRAD_KERNEL]) {
      expect(tf.getKernel(name, tf.getBackend()), name).toBeDefined();
    }
    expect(tf.getGradient(SOFTMAX_CROSS_ENTROPY_KERNEL)).toBeDefined();
    expect(tf.getGradient(SOFTMAX_CROSS_ENTROPY_GRAD_KERNEL)).toBeDefined();
    // No gradient: it runs only where nothing records it (gradient.ts).
    expect(tf.getGradient(SOFTMAX_CROSS_ENTROPY_GRAD_GRAD_KERNEL)).toBeUndefined();
  });

  it("loss, gradient and second-order kernel are the float64 values rounded once, on random shapes up to ±80", () => {
    SHAPES.forEach((shape, i) => {
      const c = randomCase(10 + i, shape);
      const expected = float64Reference(c, shape[shape.length - 1]!);
      tf.tidy(() => {
        const t = tensors(c);
        expectRoundedFrom(forward(t.logits, t.labels), expected.loss, `loss [${shape}]`);
        expectRoundedFrom(backward(t.logits, t.labels, t.dy), expected.grad, `dLogits [${shape}]`);
        const [dLogits, dDy] = gradGrad(t.logits, t.labels, t.dy, t.upstream);
        expect(dLogits!.shape).toEqual(shape);
        expect(dDy!.shape).toEqual(shape.slice(0, -1));
        // Sums of products of p: one float64 rounding more than the reference; compared relative to the row scale.
        expect(relativeError(dLogits!.dataSync(), expected.gradGradLogits, 1e-30), `second order, logits [${shape}]`).toBeLessThan(1e-6);
        expect(relativeError(dDy!.dataSync(), expected.gradGradDy, 1e-30), `second order, dy [${shape}]`).toBeLessThan(1e-6);
      });
    });
  });

  it("rows of equal logits give log C and a gradient u·(1/C − onehot); extreme rows stay finite", () => {
    tf.tidy(() => {
      const logits = tf.tensor2d([80, 80, 80, 80, -80, -80, -80, -80, 80, -80, -80, -80, -80, 80, -80, 80], [4, 4]);
      const labels = tf.tensor1d([2, 0, 0, 1], "int32");
      const loss = forward(logits, labels).dataSync();
      expect(loss[0]).toBe(Math.fround(Math.log(4)));
      expect(loss[1]).toBe(Math.fround(Math.log(4)));
      expect(loss[2]).toBe(0); // log(1 + 3e−70) − 0 rounds to 0
      expect(loss[3]).toBe(Math.fround(Math.log(2)));
      const grad = Array.from(backward(logits, labels, tf.ones([4])).dataSync(), (g) => g + 0); // −0 → +0
      expect(grad).toEqual([0.25, 0.25, -0.75, 0.25, -0.75, 0.25, 0.25, 0.25, 0, 0, 0, 0, 0, -0.5, 0, 0.5]);
    });
  });

  it("match the tf-op forms to float32 tolerance (loss, its gradient through tf.grad, the second-order formula)", () => {
    // tf.oneHot needs C ≥ 2, so the op form has no C = 1.
    SHAPES.filter((shape) => shape[shape.length - 1]! > 1).forEach((shape, i) => {
      const c = randomCase(40 + i, shape);
      tf.tidy(() => {
        const t = tensors(c);
        expect(relativeError(forward(t.logits, t.labels).dataSync(), opsLoss(t.logits, t.labels).dataSync()), `loss [${shape}]`).toBeLessThan(1e-6);
        const viaKernel = tf
          .grad((z: tf.Tensor) => tf.sum(tf.mul(forward(z, t.labels), t.dy)))(t.logits)
          .dataSync();
        const viaOps = tf
          .grad((z: tf.Tensor) => tf.sum(tf.mul(opsLoss(z, t.labels), t.dy)))(t.logits)
          .dataSync();
        expect(relativeError(viaKernel, viaOps), `gradient [${shape}]`).toBeLessThan(2e-6);
        const [dLogits, dDy] = gradGrad(t.logits, t.labels, t.dy, t.upstream);
        const formula = softmaxCrossEntropyGradGradients(t.logits, t.labels, t.dy, t.upstream);
        // The float32 formula cancels in v − pᵀv (the kernel is within 1e-6 of float64, above).
        expect(relativeError(dLogits!.dataSync(), formula.logits.dataSync()), `second order, logits [${shape}]`).toBeLessThan(1e-5);
        expect(relativeError(dDy!.dataSync(), formula.dy.dataSync()), `second order, dy [${shape}]`).toBeLessThan(1e-5);
      });
    });
  });

  it("give the same bits on every call", () => {
    const c = randomCase(77, [6, 5, 5]);
    const run = () =>
      tf.tidy(() => {
        const t = tensors(c);
        const [a, b] = gradGrad(t.logits, t.labels, t.dy, t.upstream);
        return [forward(t.logits, t.labels), backward(t.logits, t.labels, t.dy), a!, b!].map((x) =>
          Array.from(new Uint32Array(Float32Array.from(x.dataSync()).buffer)),
        );
      });
    expect(run()).toEqual(run());
  });

  it("reject labels outside [0, C), labels of another shape or dtype, and a wrong dy or upstream", () => {
    tf.tidy(() => {
      const logits = tf.zeros([2, 3]);
      expect(() => forward(logits, tf.tensor1d([0, 3], "int32"))).toThrow(/labels in \[0, 3\), got 3 at position 1/);
      expect(() => forward(logits, tf.tensor1d([-1, 0], "int32"))).toThrow(/got -1 at position 0/);
      expect(() => backward(logits, tf.tensor1d([0, 5], "int32"), tf.ones([2]))).toThrow(SOFTMAX_CROSS_ENTROPY_GRAD_KERNEL);
      expect(() => gradGrad(logits, tf.tensor1d([7, 0], "int32"), tf.ones([2]), tf.ones([2, 3]))).toThrow(SOFTMAX_CROSS_ENTROPY_GRAD_GRAD_KERNEL);
      expect(() => forward(logits, tf.tensor1d([0, 1], "float32"))).toThrow(/int32 labels/);
      expect(() => forward(logits, tf.tensor1d([0, 1, 2], "int32"))).toThrow(/got logits float32 \[2, 3\], labels int32 \[3\]/);
      expect(() => forward(tf.zeros([2, 0]), tf.tensor1d([0, 0], "int32"))).toThrow(/C ≥ 1/);
      expect(() => backward(logits, tf.tensor1d([0, 1], "int32"), tf.ones([3]))).toThrow(/dy like labels/);
      expect(() => gradGrad(logits, tf.tensor1d([0, 1], "int32"), tf.ones([2]), tf.ones([3, 2]))).toThrow(/upstream like logits/);
    });
  });

  it("leave no tensors behind across repeated calls and gradients of every order", () => {
    const c = randomCase(5, [3, 5, 5]);
    const t = tensors(c);
    const body = () =>
      tf.tidy(() => {
        const first = (z: tf.Tensor) => tf.grad((w: tf.Tensor) => tf.sum(tf.mul(forward(w, t.labels), t.dy)))(z);
        const second = (z: tf.Tensor) => tf.grad((w: tf.Tensor) => tf.sum(tf.mul(first(w), t.upstream)))(z);
        tf.grad((w: tf.Tensor) => tf.sum(tf.square(second(w))))(t.logits);
        gradGrad(t.logits, t.labels, t.dy, t.upstream);
      });
    body();
    const before = tf.memory().numTensors;
    for (let i = 0; i < 5; i++) body();
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose(Object.values(t));
  });
});
