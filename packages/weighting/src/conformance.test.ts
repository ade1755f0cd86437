import * as tf from "@tensorflow/tfjs-core";
import { ConcordError, type WeightingScheme, type WeightingState } from "@concord/core";
import { describeEachBackend } from "@concord/core/testing";
import { describe, expect, it } from "vitest";
import { testWeightingScheme } from "./conformance.js";
import { type WeightingConformanceOptions, type WeightingSchemeSource, weightingConformanceChecks } from "./conformance-checks.js";
import { cosineAgreement } from "./cosine-agreement.js";
import { gradientAgreement } from "./gradient-agreement.js";
import { lossSoftmax } from "./loss-softmax.js";
import { tailRisk } from "./tail-risk.js";
import { trMaml } from "./tr-maml.js";
import { uniform } from "./uniform.js";

/** The README's example of a user-written scheme: w_i = L_i / Σ_j L_j (uniform when every loss is 0). */
function lossProportional(): WeightingScheme {
  return {
    name: "lossProportional",
    weights: ({ losses }) => {
      const values = Array.from(losses.dataSync());
      const total = values.reduce((sum, loss) => sum + loss, 0);
      return { weights: tf.tensor1d(values.map((loss) => (total > 0 ? loss / total : 1 / values.length))) };
    },
  };
}

describeEachBackend("built-in schemes", () => {
  testWeightingScheme(uniform(), { sumsToOne: true, sumAbsToOne: true });
  testWeightingScheme(lossProportional(), { sumsToOne: true });
  testWeightingScheme(gradientAgreement(), { sumAbsToOne: true });
  testWeightingScheme(() => gradientAgreement({ eps: 1e-6 }), { sumAbsToOne: true });
  testWeightingScheme(cosineAgreement(), { sumAbsToOne: true });
  testWeightingScheme(() => cosineAgreement({ eps: 1e-6 }), { sumAbsToOne: true });
  testWeightingScheme(tailRisk({ alpha: 0.3 }), { sumsToOne: true, sumAbsToOne: true });
  testWeightingScheme(tailRisk({ alpha: 1 }), { sumsToOne: true, sumAbsToOne: true });
  testWeightingScheme(lossSoftmax(), { sumsToOne: true, sumAbsToOne: true });
  testWeightingScheme(() => lossSoftmax({ temperature: 0.05 }), { sumsToOne: true, sumAbsToOne: true });
  testWeightingScheme(() => trMaml({ groups: 3, lr: 0.5 }), { sumsToOne: true, sumAbsToOne: true, groups: 3 });
  testWeightingScheme(() => trMaml({ groups: 1, lr: 0 }), { sumsToOne: true, groups: 1 });
});

/** Runs the suite's checks on `scheme` and returns the titles of those that failed. */
function failingChecks(scheme: WeightingSchemeSource, options: WeightingConformanceOptions = {}): string[] {
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
      weights: ({ updates }) => ({
        weights: tf.tidy(() => {
          const s = tf.sum(updates, 1);
          return tf.div(s, tf.sum(tf.abs(s))) as tf.Tensor1D;
        }),
      }),
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

/** A correct stateful toy scheme: weights 1/N, state = the number of calls so far. */
function counting(overrides: Partial<WeightingScheme> = {}): WeightingScheme {
  let calls = [0];
  return {
    name: "counting",
    weights: ({ updates }) => {
      calls = [calls[0]! + 1];
      return { weights: ones(tasksOf(updates)) };
    },
    getState: () => ({ name: "counting", values: { calls: [...calls] } }),
    setState: (state: WeightingState) => {
      if (state.name !== "counting") throw new ConcordError(`expected "counting", got ${state.name}`, { field: "state.name" });
      calls = [...state.values["calls"]!];
    },
    ...overrides,
  };
}

describe("the conformance suite checks stateful schemes and group inputs", () => {
  it("passes a correct stateful scheme given as a factory, and adds its state checks", () => {
    const titles = weightingConformanceChecks(() => counting()).map((check) => check.title);
    expect(titles).toContain("a fresh scheme given a saved state (through JSON) continues bit for bit");
    expect(failingChecks(() => counting())).toEqual([]);
  });

  it("asks for a factory when a stateful scheme is passed as an object", () => {
    expect(failingChecks(counting())).toContain("a stateful scheme is passed as a factory");
  });

  it("catches getState without setState", () => {
    expect(failingChecks(() => counting({ setState: undefined }))).toEqual(["a stateful scheme has both getState and setState"]);
  });

  it("catches a getState that hands out its internal array", () => {
    const shared = [0];
    const leaking = () => counting({ getState: () => ({ name: "counting", values: { calls: shared } }) });
    expect(failingChecks(leaking)).toContain("getState returns a JSON-safe copy: plain finite numbers, unchanged by mutating it");
  });

  it("catches a setState that does not restore, and one that accepts a foreign state", () => {
    expect(failingChecks(() => counting({ setState: () => {} }))).toEqual([
      "a fresh scheme given a saved state (through JSON) continues bit for bit",
      "setState refuses a state saved by another scheme with a ConcordError, keeping its own",
    ]);
  });

  it("catches a state whose weights depend on it but that does not restore them", () => {
    // Weights depend on the call count, but setState forgets to restore it.
    const drifting = () => {
      let calls = 0;
      return {
        name: "drifting",
        weights: ({ updates }: { updates: tf.Tensor2D }) => ({
          weights: tf.fill([tasksOf(updates)], 1 / (tasksOf(updates) + ++calls), "float32") as tf.Tensor1D,
        }),
        getState: () => ({ name: "drifting", values: { calls: [calls] } }),
        setState: (state: WeightingState) => {
          if (state.name !== "drifting") throw new ConcordError("wrong name", { field: "state.name" });
        },
      } satisfies WeightingScheme;
    };
    expect(failingChecks(drifting)).toContain("a fresh scheme given a saved state (through JSON) continues bit for bit");
  });

  it("supplies groups only when asked: trMaml fails the suite without them and passes with them", () => {
    const source = () => trMaml({ groups: 4, lr: 0.1 });
    expect(failingChecks(source).length).toBeGreaterThan(5);
    expect(failingChecks(source, { groups: 4, sumsToOne: true })).toEqual([]);
    expect(() => weightingConformanceChecks(source, { groups: 0 })).toThrow(/groups: expected an integer >= 1/);
  });
});
