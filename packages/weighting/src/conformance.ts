import * as tf from "@tensorflow/tfjs-core";
import { beforeAll, describe, it } from "vitest";
import { type WeightingConformanceOptions, type WeightingSchemeSource, weightingConformanceChecks } from "./conformance-checks.js";

export type { ConformanceCheck, WeightingConformanceOptions, WeightingSchemeSource } from "./conformance-checks.js";
export { weightingConformanceChecks } from "./conformance-checks.js";

/**
 * Registers the weighting-scheme contract as vitest tests (call it at the top level of a test
 * file): Tensor1D of length N, finite values for random, single-task and all-zero updates, no
 * tensor leaks, inputs untouched, deterministic, weights constant for differentiation, a
 * non-empty name, and optionally Σw = 1 / Σ|w| = 1. A stateful scheme (getState/setState) is
 * passed as a factory and is also checked for a JSON-safe state copy, a bit-identical continuation
 * after restoring a saved state, and a refused foreign state. Pass `groups: G` for a scheme that
 * needs `input.groups`. Runs on the current tf backend.
 */
export function testWeightingScheme(scheme: WeightingSchemeSource, options: WeightingConformanceOptions = {}): void {
  const name = typeof scheme === "function" ? scheme().name : scheme.name;
  describe(`weighting scheme '${String(name)}' meets the WeightingScheme contract`, () => {
    beforeAll(async () => {
      await tf.ready();
    });
    for (const check of weightingConformanceChecks(scheme, options)) it(check.title, () => check.run());
  });
}
