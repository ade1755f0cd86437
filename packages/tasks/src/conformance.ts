import * as tf from "@tensorflow/tfjs-core";
import { beforeAll, describe, it } from "vitest";
import { type TaskSamplerConformanceOptions, type TaskSamplerSource, taskSamplerConformanceChecks } from "./conformance-checks.js";

export type { ConformanceCheck, TaskSamplerConformanceOptions, TaskSamplerSource } from "./conformance-checks.js";
export { taskSamplerConformanceChecks } from "./conformance-checks.js";

/**
 * Registers the TaskSampler contract as vitest tests (call it at the top level of a test file):
 * sample(n) returns n tasks of support/query {x, y} tensors with equal shapes across one call and
 * as many x as y examples, finite values, the same seed gives the same tasks bit for bit and the
 * same rng state, different seeds differ, no tensor leaks, a non-empty name, and a bad count
 * (0, −1, 1.5) throws a ConcordError naming "count". Runs on the current tf backend.
 */
export function testTaskSampler(sampler: TaskSamplerSource, options: TaskSamplerConformanceOptions = {}): void {
  const name = typeof sampler === "function" ? sampler().name : sampler.name;
  describe(`task sampler '${String(name)}' meets the TaskSampler contract`, () => {
    beforeAll(async () => {
      await tf.ready();
    });
    for (const check of taskSamplerConformanceChecks(sampler, options)) it(check.title, () => check.run());
  });
}
