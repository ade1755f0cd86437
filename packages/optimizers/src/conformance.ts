import * as tf from "@tensorflow/tfjs-core";
import { beforeAll, describe, it } from "vitest";
import { type InnerOptimizerConformanceOptions, type InnerOptimizerSource, innerOptimizerConformanceChecks } from "./conformance-checks.js";

export type { ConformanceCheck, InnerOptimizerConformanceOptions, InnerOptimizerSource } from "./conformance-checks.js";
export { innerOptimizerConformanceChecks } from "./conformance-checks.js";

/**
 * Registers the InnerOptimizer contract as vitest tests (call it at the top level of a test file):
 * a non-empty name, step returns params with the same keys and shapes, leaves its inputs alone,
 * leaks nothing, its state round-trips, it works elementwise on a leading task axis, and it is
 * differentiable with respect to the gradients it is given (second order through the update, as
 * second-order MAML needs). Runs on the current tf backend, with whatever gradients are
 * registered there (install Concord's gradient set first).
 */
export function testInnerOptimizer(optimizer: InnerOptimizerSource, options: InnerOptimizerConformanceOptions = {}): void {
  const name = typeof optimizer === "function" ? optimizer().name : optimizer.name;
  describe(`inner optimizer '${String(name)}' meets the InnerOptimizer contract`, () => {
    beforeAll(async () => {
      await tf.ready();
    });
    for (const check of innerOptimizerConformanceChecks(optimizer, options)) it(check.title, () => check.run());
  });
}
