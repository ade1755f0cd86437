import * as tf from "@tensorflow/tfjs-core";
import { type InnerOptimizer, type Params, stopGradient } from "@concord/core";
import { describeEachBackend } from "@concord/core/testing";
import { beforeAll, describe, expect, it } from "vitest";
import { testInnerOptimizer } from "./conformance.js";
import { innerOptimizerConformanceChecks } from "./conformance-checks.js";
import { metaSgd } from "./meta-sgd.js";
import { sgd } from "./sgd.js";

describeEachBackend("built-in inner optimizers", () => {
  testInnerOptimizer(sgd({ lr: 0.1 }));
  testInnerOptimizer(() => sgd({ lr: 0.4 }));
  testInnerOptimizer(metaSgd({ lr: 0.1 }));
  testInnerOptimizer(() => metaSgd({ lr: 0.4 }));
});

/** Runs the suite's checks on `optimizer` and returns the titles of those that failed. */
function failingChecks(optimizer: InnerOptimizer): string[] {
  return innerOptimizerConformanceChecks(optimizer).flatMap((check) => {
    try {
      check.run();
      return [];
    } catch {
      return [check.title];
    }
  });
}

const mapEntries = (params: Params, fn: (value: tf.Tensor, key: string) => tf.Tensor): Params =>
  Object.fromEntries(Object.entries(params).map(([key, value]) => [key, fn(value, key)]));

/** θ − lr·g, stateless, with `update` swapped in for the ways a real optimizer goes wrong. */
function descent(name: string, update: (value: tf.Tensor, grad: tf.Tensor) => tf.Tensor): InnerOptimizer<null> {
  return {
    name,
    init: () => null,
    step: (params, grads) => ({ params: tf.tidy(() => mapEntries(params, (value, key) => update(value, grads[key]!))), state: null }),
  };
}

const STEP_SHAPES = "step returns finite float32 params with the same keys, key order and shapes";
const UNTOUCHED = "step does not mutate or dispose its params, grads or state";
const NO_LEAKS = "init and step leak no tensors (tf.memory().numTensors stays flat)";
const ROUND_TRIP = "state round-trips: step's state has init's structure, feeds the next step, and equal inputs give equal results";
const BATCHED = "works on a leading task axis: two steps on params [T, ...] equal the per-task steps, elementwise (T = 3)";
const DIFFERENTIABLE = "is differentiable: d/dθ of a loss after step(θ, ∇L(θ)) matches finite differences (second order through the update)";

describe("the inner-optimizer suite catches broken optimizers [cpu]", () => {
  beforeAll(async () => {
    // cpu: its dataSync() hands out the backend's own buffer, which the mutating optimizer writes into.
    if (!(await tf.setBackend("cpu"))) throw new Error("the cpu backend failed to initialise");
  });

  it("passes a correct optimizer", () => {
    expect(failingChecks(descent("descent", (value, grad) => tf.sub(value, tf.mul(grad, 0.1))))).toEqual([]);
  });

  it("catches an optimizer that writes into its input params", () => {
    const mutating: InnerOptimizer<null> = {
      name: "mutating",
      init: () => null,
      step(params, grads) {
        for (const [key, value] of Object.entries(params)) {
          const values = value.dataSync() as Float32Array; // the backend's own buffer on cpu
          const gradient = grads[key]!.dataSync();
          values.forEach((v, i) => (values[i] = v - 0.1 * gradient[i]!));
        }
        return { params: mapEntries(params, (value) => tf.clone(value)), state: null };
      },
    };
    expect(failingChecks(mutating)).toContain(UNTOUCHED);
  });

  it("catches an optimizer that disposes its grads", () => {
    const disposing = descent("disposing", (value, grad) => {
      const next = tf.sub(value, tf.mul(grad, 0.1));
      grad.dispose();
      return next;
    });
    expect(failingChecks(disposing)).toContain(UNTOUCHED);
  });

  it("catches a first-order optimizer (the gradients behind a stop-gradient)", () => {
    expect(failingChecks(descent("first-order", (value, grad) => tf.sub(value, tf.mul(stopGradient(grad), 0.1))))).toEqual([DIFFERENTIABLE]);
  });

  it("catches an optimizer that is not elementwise over the task axis (clipping by the whole tensor's norm)", () => {
    const clipped = descent("clipped", (value, grad) => tf.sub(value, tf.mul(tf.div(grad, tf.add(tf.norm(grad), 1)), 0.1)));
    expect(failingChecks(clipped)).toEqual([BATCHED]);
  });

  it("catches a leak, a wrong key and a state that changes structure", () => {
    const leaky = descent("leaky", (value, grad) => {
      tf.keep(tf.sum(grad)); // never disposed
      return tf.sub(value, tf.mul(grad, 0.1));
    });
    expect(failingChecks(leaky)).toEqual([NO_LEAKS]);

    const renaming: InnerOptimizer<null> = {
      name: "renaming",
      init: () => null,
      step: (params, grads) => ({
        params: tf.tidy(() => Object.fromEntries(Object.entries(params).map(([key, value]) => [`${key}'`, tf.sub(value, grads[key]!)]))),
        state: null,
      }),
    };
    expect(failingChecks(renaming)).toContain(STEP_SHAPES);

    const counting: InnerOptimizer<{ steps: number } | null> = {
      name: "counting",
      init: () => null,
      step: (params, grads, state) => ({
        params: tf.tidy(() => mapEntries(params, (value, key) => tf.sub(value, grads[key]!))),
        state: { steps: (state?.steps ?? 0) + 1 },
      }),
    };
    expect(failingChecks(counting)).toEqual([ROUND_TRIP]);
  });
});
