// The gradient set must be closed under differentiation: every kernel that a registered gradient
// runs (at any order) has a registered gradient itself. Checked by running third-order gradients
// of every case under tf.profile and comparing the kernels executed with the registered set (kernels
// that run only while no tape records them, untapedGradientKernels, need none: checked where they
// are run, e.g. kernels/batch-norm/grad-grad.test.ts).
import * as tf from "@tensorflow/tfjs-core";
import { describe, expect, it } from "vitest";
import { describeEachBackend } from "@concord/core/testing";
import { concordGradientKernels, registerConcordGradients, untapedGradientKernels } from "./register.js";
import { GRADIENT_CASES } from "./testing/cases.js";
import { kernelsUpToThirdOrder } from "./testing/check.js";

describe("gradient set", () => {
  it("has a finite-difference case for every registered kernel", () => {
    const tested = new Set(GRADIENT_CASES.flatMap((c) => c.kernels));
    expect(concordGradientKernels.filter((k) => !tested.has(k))).toEqual([]);
  });

  it("registers each kernel once, and registering again changes nothing", () => {
    expect(new Set(concordGradientKernels).size).toBe(concordGradientKernels.length);
    const before = concordGradientKernels.map((k) => tf.getGradient(k));
    registerConcordGradients();
    expect(concordGradientKernels.map((k) => tf.getGradient(k))).toEqual(before);
  });
});

describeEachBackend("closure under differentiation", () => {
  const registered = new Set(concordGradientKernels);
  const untaped = new Set(untapedGradientKernels);
  for (const c of GRADIENT_CASES) {
    it(`${c.name}: every kernel run up to third order has a registered gradient`, async () => {
      const before = tf.memory().numTensors;
      const kernels = await kernelsUpToThirdOrder(c);
      for (const k of c.kernels) expect(kernels, `case should exercise ${k}`).toContain(k);
      expect([...kernels].filter((k) => !registered.has(k) && !untaped.has(k))).toEqual([]);
      expect(tf.memory().numTensors).toBe(before);
    });
  }
});
