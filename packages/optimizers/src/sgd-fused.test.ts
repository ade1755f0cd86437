// sgd() runs @concord/backend's fused step kernel when it is registered and the two ops when it is
// not: the same bits either way, also for second-order MAML, which differentiates through the step.
import * as tf from "@tensorflow/tfjs-core";
import { installConcord, uninstallConcord } from "@concord/backend";
import { createRng, disposeParams, type Params, SGD_STEP_KERNEL } from "@concord/core";
import { describeEachBackend } from "@concord/core/testing";
import { afterAll, expect, it } from "vitest";
import { sgd } from "./sgd.js";

function bits(t: tf.Tensor): number[] {
  return Array.from(new Uint32Array(Float32Array.from(t.dataSync() as Float32Array).buffer));
}

/**
 * Second-order MAML gradients of a small MLP with sgd() as the inner optimizer (the step is on the
 * outer tape), an outer sgd() update, and the kernels all of that ran.
 */
async function mamlWithSgd(): Promise<{ bits: number[][]; kernels: Set<string> }> {
  const rng = createRng(5);
  const inner = sgd({ lr: 0.01 });
  const outer = sgd({ lr: 1 / 3 });
  const params: Params = {
    w: tf.tensor2d(rng.normalArray(8, 1), [1, 8]),
    b: tf.tensor1d(rng.normalArray(8, 0.1)),
    v: tf.tensor2d(rng.normalArray(8, 1), [8, 1]),
  };
  const x = tf.tensor2d(rng.normalArray(6, 2), [6, 1]);
  const y = tf.sin(x);
  const loss = (p: Params) => tf.mean(tf.squaredDifference(tf.matMul(tf.relu(tf.add(tf.matMul(x, p["w"]!), p["b"]!)), p["v"]!), y));
  const names = Object.keys(params);
  let out: number[][] = [];
  const profile = await tf.profile(() => {
    tf.tidy(() => {
      const grads = tf.grads((...values: tf.Tensor[]) => {
        const current = Object.fromEntries(names.map((name, i) => [name, values[i]!]));
        const innerGrads = tf.grads((...inner: tf.Tensor[]) => loss(Object.fromEntries(names.map((name, i) => [name, inner[i]!]))))(values);
        const adapted = inner.step(current, Object.fromEntries(names.map((name, i) => [name, innerGrads[i]!])), null).params;
        return loss(adapted);
      })(names.map((name) => params[name]!));
      const next = outer.apply(params, Object.fromEntries(names.map((name, i) => [name, grads[i]!])));
      out = [...grads.map(bits), ...Object.values(next).map(bits)];
    });
  });
  disposeParams(params);
  tf.dispose([x, y]);
  return { bits: out, kernels: new Set(profile.kernels.map((k) => k.name)) };
}

describeEachBackend("sgd() with and without the fused step kernel", () => {
  afterAll(() => {
    installConcord();
  });

  it("gives the same bits for second-order MAML and the outer update; the kernel runs only when installed", async () => {
    const before = tf.memory().numTensors;
    installConcord();
    const fused = await mamlWithSgd();
    uninstallConcord();
    // Concord's gradient set is needed for second order, so install it back without the step kernel.
    installConcord();
    tf.unregisterKernel(SGD_STEP_KERNEL, tf.getBackend());
    const plain = await mamlWithSgd();
    uninstallConcord();
    installConcord();
    expect(fused.kernels).toContain(SGD_STEP_KERNEL);
    expect(plain.kernels).not.toContain(SGD_STEP_KERNEL);
    expect(fused.bits).toEqual(plain.bits);
    expect(tf.memory().numTensors).toBe(before);
  });

  it("keeps the ops while the kernel's gradient is not registered (differentiating through the step needs it)", async () => {
    const run = async () => {
      let values: number[] = [];
      const profile = await tf.profile(() => {
        tf.tidy(() => {
          const step = sgd({ lr: 0.5 }).step({ w: tf.tensor2d([1, 2, 3, 4], [2, 2]) }, { w: tf.tensor2d([2, 4, -2, 0], [2, 2]) }, null);
          values = Array.from(step.params["w"]!.dataSync());
        });
      });
      return { values, kernels: profile.kernels.map((k) => k.name) };
    };
    expect((await run()).kernels).toEqual([SGD_STEP_KERNEL]);
    tf.unregisterGradient(SGD_STEP_KERNEL);
    const plain = await run();
    uninstallConcord();
    installConcord();
    expect(plain.kernels).toEqual(["Multiply", "Sub"]);
    expect(plain.values).toEqual([0, 0, 4, 4]);
    expect((await run()).values).toEqual([0, 0, 4, 4]);
  });
});
