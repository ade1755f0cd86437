import * as tf from "@tensorflow/tfjs-core";
import type { WeightingScheme } from "@concord/core";
import { describeEachBackend } from "@concord/core/testing";
import { describe, expect, it } from "vitest";
import { testWeightingScheme } from "./conformance.js";
import { weightingConformanceChecks } from "./conformance-checks.js";
import { gradientAgreement } from "./gradient-agreement.js";
import { uniform } from "./uniform.js";

/** The README's example of a user-written scheme. */
function lossSoftmax({ temperature = 1 } = {}): WeightingScheme {
  return {
    name: "lossSoftmax",
    weights: ({ losses }) => ({ weights: tf.tidy(() => tf.softmax(tf.div<tf.Tensor1D>(losses, temperature))) }),
  };
}

describeEachBackend("built-in schemes", () => {
  testWeightingScheme(uniform(), { sumsToOne: true, sumAbsToOne: true });
  testWeightingScheme(lossSoftmax(), { sumsToOne: true });
  testWeightingScheme(gradientAgreement(), { sumAbsToOne: true });
  testWeightingScheme(() => gradientAgreement({ eps: 1e-6 }), { sumAbsToOne: true });
});

/** Runs the suite's checks on `scheme` and returns the titles of those that failed. */
function failingChecks(scheme: WeightingScheme, options = {}): string[] {
  return weightingConformanceChecks(scheme, options).flatMap((check) => {
    try {
      check.run();
      return [];
    } catch {
      return [check.title];
    }
  });
}

const ones = (tasks: number) => tf.fill([tasks], 1 / tasks) as tf.Tensor1D;
const tasksOf = (updates: tf.Tensor2D) => updates.shape[0]!;

describe("the conformance suite catches broken schemes", () => {
  it("passes a correct scheme", () => {
    expect(failingChecks({ name: "ok", weights: ({ updates }) => ({ weights: ones(tasksOf(updates)) }) })).toEqual([]);
  });

  it("catches an empty name", () => {
    expect(failingChecks({ name: "", weights: ({ updates }) => ({ weights: ones(tasksOf(updates)) }) })).toEqual(["has a non-empty string name"]);
  });

  it("catches a leak", () => {
    const leaky: WeightingScheme = {
      name: "leaky",
      weights: ({ updates }) => {
        tf.keep(tf.sum(updates)); // never disposed
        return { weights: ones(tasksOf(updates)) };
      },
    };
    expect(failingChecks(leaky)).toEqual(["does not leak tensors (tf.memory().numTensors stays flat)"]);
  });

  it("catches a scheme that disposes its input", () => {
    const disposing: WeightingScheme = {
      name: "disposing",
      weights: ({ updates }) => {
        const tasks = tasksOf(updates);
        updates.dispose();
        return { weights: ones(tasks) };
      },
    };
    expect(failingChecks(disposing)).toContain("does not mutate or dispose its inputs");
  });

  it("catches a wrong shape, NaN on zero updates, nondeterminism and Σw ≠ 1", () => {
    const column: WeightingScheme = { name: "column", weights: ({ updates }) => ({ weights: tf.fill([tasksOf(updates), 1], 1) as unknown as tf.Tensor1D }) };
    expect(failingChecks(column).some((title) => title.startsWith("returns a finite float32 Tensor1D"))).toBe(true);

    const naive: WeightingScheme = {
      name: "naive",
      weights: ({ updates }) => ({ weights: tf.tidy(() => { const s = tf.sum(updates, 1); return tf.div(s, tf.sum(tf.abs(s))) as tf.Tensor1D; }) }),
    };
    expect(failingChecks(naive)).toContain("handles all-zero updates without NaN");

    let calls = 0;
    const drifting: WeightingScheme = { name: "drifting", weights: ({ updates }) => ({ weights: tf.fill([tasksOf(updates)], ++calls) as tf.Tensor1D }) };
    expect(failingChecks(drifting)).toContain("is deterministic for equal inputs");
    expect(failingChecks(drifting, { sumsToOne: true }).length).toBeGreaterThan(failingChecks(drifting).length);
  });

  it("catches weights that stay on the gradient tape", () => {
    // w_i = 1/N + 1e-3 Σ_p g_ip: differentiable (or "gradient function not found" without a gradient set).
    const connected: WeightingScheme = {
      name: "connected",
      weights: ({ updates }) => ({ weights: tf.tidy(() => tf.add(tf.mul(tf.sum(updates, 1), 1e-3), 1 / tasksOf(updates)) as tf.Tensor1D) }),
    };
    expect(failingChecks(connected)).toEqual(["returns weights that are constants for differentiation"]);
  });
});
