import * as tf from "@tensorflow/tfjs-core";
import { describeEachBackend } from "@concord/core/testing";
import { expect, it } from "vitest";
import { enginePatched } from "../registry-journal.js";
import { installLeanRunKernel } from "./lean-run-kernel.js";

function bits(t: tf.Tensor): number[] {
  return Array.from(new Uint32Array(Float32Array.from(t.dataSync() as Float32Array).buffer));
}

/** Runs `body` with tfjs's own Engine.runKernel (the prototype's), then puts Concord's back. */
function withTfjsRunKernel<T>(body: () => T): T {
  const engine = tf.engine() as unknown as Record<string, unknown>;
  const lean = engine["runKernel"];
  delete engine["runKernel"];
  try {
    return body();
  } finally {
    engine["runKernel"] = lean;
  }
}

/** Ops of every kind (one and several outputs, attributes, int32) and gradients to second order. */
function workload(): { values: number[][]; growth: number; tensorIds: number } {
  const before = tf.memory().numTensors;
  const firstId = tf.tensor1d([0]);
  const values = tf.tidy(() => {
    const x = tf.tensor2d([0.5, -1, 2, 3, -0.25, 1.5], [2, 3]);
    const [a, b] = tf.split(x, [1, 2], 1);
    const indices = tf.argMax(x, 1);
    const dx = tf.grad((v: tf.Tensor) => tf.sum(tf.grad((w: tf.Tensor) => tf.sum(tf.mul(tf.exp(w), tf.tanh(w))))(v)))(x);
    return [bits(tf.matMul(a!, b!, true, false)), Array.from(indices.dataSync()), bits(tf.mean(x, 1, true)), bits(dx)];
  });
  const lastId = tf.tensor1d([0]);
  const result = { values, growth: tf.memory().numTensors - before - 2, tensorIds: lastId.id - firstId.id };
  tf.dispose([firstId, lastId]);
  return result;
}

describeEachBackend("lean Engine.runKernel", () => {
  it("is installed (vitest.setup.ts installs Concord)", () => {
    expect(installLeanRunKernel()).toBe(true);
    expect(enginePatched("runKernel")).toBe(true);
  });

  it("gives tfjs's values, tensors and tape: the same bits, no leaks, the same number of tensors created", () => {
    const lean = workload();
    const tfjs = withTfjsRunKernel(workload);
    expect(lean).toEqual(tfjs);
    expect(lean.growth).toBe(0);
  });

  it("throws tfjs's error for a kernel that is not registered, and a failing kernel leaves recording on", () => {
    const missing = () => tf.engine().runKernel("NoSuchKernel", {});
    expect(missing).toThrow(withTfjsRunKernel(() => captureMessage(missing)));
    // A kernel that throws (shapes that do not broadcast) must restore the kernel depth, or the
    // tape would stop recording everything afterwards.
    const engine = tf.engine() as unknown as { state: { kernelDepth: number } };
    expect(() => tf.tidy(() => tf.add(tf.ones([2]), tf.ones([3])))).toThrow();
    expect(engine.state.kernelDepth).toBe(0);
    const g = tf.grad((v: tf.Tensor) => tf.sum(tf.square(v)))(tf.tensor1d([3]));
    expect(Array.from(g.dataSync())).toEqual([6]);
    g.dispose();
  });

  it("leaves tf.profile's view unchanged: every kernel is still listed", async () => {
    const x = tf.tensor1d([1, -2, 3, -4]);
    // tf.profile runs its function synchronously, so the whole profile is taken with one runKernel.
    const names = async () => (await tf.profile(() => void tf.tidy(() => tf.relu(tf.add(x, x))))).kernels.map((k) => k.name);
    const lean = await names();
    expect(lean).toEqual(["Add", "Relu"]);
    expect(lean).toEqual(await withTfjsRunKernel(names));
    x.dispose();
  });
});

function captureMessage(f: () => unknown): string {
  try {
    f();
  } catch (error) {
    return (error as Error).message;
  }
  return "no error";
}
