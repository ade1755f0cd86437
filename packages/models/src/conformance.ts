import * as tf from "@tensorflow/tfjs-core";
import { beforeAll, describe, it } from "vitest";
import { type ModelConformanceOptions, type ModelSource, modelConformanceChecks } from "./conformance-checks.js";

export type { ConformanceCheck, ModelConformanceOptions, ModelSource, ModelTargets } from "./conformance-checks.js";
export { modelConformanceChecks } from "./conformance-checks.js";

/**
 * Registers the Model contract as vitest tests (call it at the top level of a test file): a
 * non-empty name, init deterministic per seed with stable parameter shapes, forward's output
 * shape and finiteness, forward leaves params and x alone and leaks nothing, forwardBatched (when
 * present) equals stacking forward per task, Hessian-vector products of the loss by nested
 * tf.grads match finite differences of the gradient (second order), and, with
 * `supportedKernels`, only listed kernels run. Runs on the current tf backend, with whatever
 * gradients are registered there (install Concord's gradient set first).
 */
export function testModel(model: ModelSource, options: ModelConformanceOptions): void {
  const name = typeof model === "function" ? model().name : model.name;
  describe(`model '${String(name)}' meets the Model contract`, () => {
    beforeAll(async () => {
      await tf.ready();
    });
    for (const check of modelConformanceChecks(model, options)) it(check.title, () => check.run());
  });
}
