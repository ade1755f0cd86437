import * as tf from "@tensorflow/tfjs-core";
import { SGD_STEP_KERNEL } from "@concord/core";
import { describeEachBackend } from "@concord/core/testing";
import { expect, it } from "vitest";
import { simdKernels, type WasmHeapBackend } from "../simd-module.js";

function bits(t: tf.Tensor): number[] {
  return Array.from(new Uint32Array(Float32Array.from(t.dataSync() as Float32Array).buffer));
}

const fused = (param: tf.Tensor, grad: tf.Tensor, lr: number) => tf.engine().runKernel(SGD_STEP_KERNEL, { param, grad }, { lr }) as tf.Tensor;
const ops = (param: tf.Tensor, grad: tf.Tensor, lr: number) => tf.sub(param, tf.mul(grad, lr));

describeEachBackend("fused SGD step kernel", () => {
  it("is registered with its gradient (vitest.setup.ts installs Concord)", () => {
    expect(tf.getKernel(SGD_STEP_KERNEL, tf.getBackend())).toBeDefined();
    expect(tf.getGradient(SGD_STEP_KERNEL)).toBeDefined();
  });

  it("computes θ − lr·g with the ops' bits: signed zeros, infinities, NaN, denormals, rounding", () => {
    const special = [0, -0, 1, -1, 0.1, 3e38, -3e38, Infinity, -Infinity, Number.NaN, 1e-40, -1e-45, 1 / 3, 7e-3];
    const param = tf.tensor1d(special.flatMap((a) => special.map(() => a)));
    const grad = tf.tensor1d(special.flatMap(() => special));
    for (const lr of [0.01, 1 / 3, 0.4, 1e-3, 2]) {
      tf.tidy(() => {
        expect(bits(fused(param, grad, lr))).toEqual(bits(ops(param, grad, lr)));
      });
    }
    tf.dispose([param, grad]);
  });

  it("has the ops' bits at every length, also where four-lane loops leave a tail", () => {
    // On wasm without the addon this is gemm.wat's sgd_step (four lanes, then a scalar tail).
    if (tf.getBackend() === "wasm") expect(simdKernels(tf.backend() as unknown as WasmHeapBackend)?.sgd_step).toBeTypeOf("function");
    for (const length of [1, 2, 3, 5, 6, 7, 13, 64, 67]) {
      tf.tidy(() => {
        const param = tf.tensor1d(Array.from({ length }, (_, i) => Math.sin(i + 1) * 10 ** ((i % 7) - 3)));
        const grad = tf.tensor1d(Array.from({ length }, (_, i) => Math.cos(3 * i) * 10 ** ((i % 5) - 2)));
        for (const lr of [0.4, 1 / 3, 1e-3]) expect(bits(fused(param, grad, lr))).toEqual(bits(ops(param, grad, lr)));
      });
    }
  });

  it("differentiates like the ops to third order (the same bits)", () => {
    const theta = tf.tensor2d([0.5, -1.5, 2, 0.25, -3, 1], [2, 3]);
    // f(θ) = Σ (θ − lr·∇h(θ))³ with h = Σ tanh(θ)·θ: the step's gradient is itself differentiated.
    const make = (step: typeof fused) => (v: tf.Tensor) => {
      const inner = tf.grad((w: tf.Tensor) => tf.sum(tf.mul(tf.tanh(w), w)))(v);
      const next = step(v, inner, 0.1);
      return tf.sum(tf.mul(tf.mul(next, next), next));
    };
    const derivatives = (f: (v: tf.Tensor) => tf.Tensor) =>
      tf.tidy(() => {
        const first = (v: tf.Tensor) => tf.grad(f)(v);
        const second = (v: tf.Tensor) => tf.grad((w: tf.Tensor) => tf.sum(first(w)))(v);
        const third = (v: tf.Tensor) => tf.grad((w: tf.Tensor) => tf.sum(second(w)))(v);
        return [bits(f(theta)), bits(first(theta)), bits(second(theta)), bits(third(theta))];
      });
    const viaKernel = derivatives(make(fused));
    expect(viaKernel).toEqual(derivatives(make(ops)));
    // The kernel is differentiated (not silently replaced): its gradient is what ran.
    expect(viaKernel[1]!.some((b) => b !== 0)).toBe(true);
    theta.dispose();
  });

  it("rejects a param and grad of different shapes or dtypes, and leaves no tensors behind", () => {
    const before = tf.memory().numTensors;
    tf.tidy(() => {
      expect(() => fused(tf.ones([2, 2]), tf.ones([2]), 0.1)).toThrow(/one shape/);
      expect(() => fused(tf.ones([2], "int32"), tf.ones([2], "int32"), 0.1)).toThrow(/float32/);
    });
    for (let i = 0; i < 10; i++) tf.tidy(() => void tf.grad((v: tf.Tensor) => tf.sum(fused(v, tf.square(v), 0.5)))(tf.ones([3])));
    expect(tf.memory().numTensors).toBe(before);
  });
});
