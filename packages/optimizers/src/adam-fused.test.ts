// adam() runs @concord/backend's fused kernel when it is registered and the op-by-op update when it
// is not: the same bits either way.
import * as tf from "@tensorflow/tfjs-core";
import { installConcord, uninstallConcord } from "@concord/backend";
import { ADAM_UPDATE_KERNEL, createRng, disposeParams, type Params } from "@concord/core";
import { describeEachBackend } from "@concord/core/testing";
import { afterAll, expect, it } from "vitest";
import { adam } from "./adam.js";

/** Ten Adam steps on random gradients; returns the final values and the kernels the steps ran. */
async function tenSteps(): Promise<{ values: number[][]; kernels: Set<string> }> {
  const rng = createRng(12);
  const optimizer = adam({ lr: 1e-3 });
  let params: Params = { w: tf.tensor(rng.normalArray(35, 1), [7, 5]), b: tf.tensor(rng.normalArray(5, 1), [5]) };
  const kernels = new Set<string>();
  for (let t = 1; t <= 10; t++) {
    const grads: Params = { w: tf.tensor(rng.normalArray(35, t), [7, 5]), b: tf.tensor(rng.normalArray(5, t), [5]) };
    let next: Params = {};
    const profile = await tf.profile(() => {
      next = optimizer.apply(params, grads);
    });
    for (const kernel of profile.kernels) kernels.add(kernel.name);
    disposeParams(grads);
    disposeParams(params);
    params = next;
  }
  const values = Object.values(params).map((p) => Array.from(p.dataSync()));
  disposeParams(params);
  optimizer.dispose();
  return { values, kernels };
}

describeEachBackend("adam() with and without the fused kernel", () => {
  afterAll(() => {
    installConcord();
  });

  it("is bit-identical over ten steps; the fused kernel runs only when installed", async () => {
    const before = tf.memory().numTensors;
    installConcord();
    const fused = await tenSteps();
    uninstallConcord();
    const plain = await tenSteps();
    installConcord();
    expect(fused.kernels).toContain(ADAM_UPDATE_KERNEL);
    expect(plain.kernels).not.toContain(ADAM_UPDATE_KERNEL);
    expect(plain.kernels).toContain("Sqrt");
    expect(fused.values).toEqual(plain.values);
    expect(tf.memory().numTensors).toBe(before);
  });
});
