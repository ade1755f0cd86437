import * as tf from "@tensorflow/tfjs-core";
import { createRng, expectInteger, type Rng, type Task, type TaskSampler } from "@concord/core";
import { describeEachBackend } from "@concord/core/testing";
import { describe, expect, it } from "vitest";
import { testTaskSampler } from "./conformance.js";
import { taskSamplerConformanceChecks } from "./conformance-checks.js";
import { fewShot } from "./few-shot.js";
import { packedImageDataset } from "./image-dataset.js";
import { sinusoid } from "./sinusoid.js";

/** 6 classes × 5 images of 6×6 grey pixels, made from a fixed seed. */
function syntheticImages() {
  const rng = createRng(7);
  const classSizes = [5, 5, 5, 5, 5, 5];
  const pixels = Uint8Array.from({ length: 30 * 36 }, () => rng.int(256));
  return packedImageDataset({ pixels, imageShape: [6, 6, 1], classSizes });
}

describeEachBackend("built-in samplers", () => {
  testTaskSampler(sinusoid());
  testTaskSampler(sinusoid({ corruption: { fraction: 0.5 }, supportSize: 5, querySize: 7, name: "sinusoid-corrupted" }));
  testTaskSampler(() => fewShot({ dataset: syntheticImages(), ways: 3, shots: 2, queryShots: 3 }), { counts: [1, 3] });
});

/** Runs the suite's checks on `sampler` and returns the titles of those that failed. */
function failingChecks(sampler: TaskSampler): string[] {
  return taskSamplerConformanceChecks(sampler).flatMap((check) => {
    try {
      check.run();
      return [];
    } catch {
      return [check.title];
    }
  });
}

const SAME_SEED = "the same seed gives identical tasks, bit for bit, and leaves the rng in the same state";
const EQUAL_SHAPES = "every task of one call has the same shapes and dtypes (so a meta-batch can be stacked)";
const NO_LEAKS = "leaks no tensors: disposing the returned tasks brings tf.memory().numTensors back";
const BAD_COUNT = "rejects a bad count (0, -1, 1.5) with a ConcordError naming 'count'";
const USES_RNG = "draws its randomness from the rng: different seeds give different tasks and the rng advances";

/** A well-behaved line-fitting sampler; `draw` may be swapped for a broken random source. */
function lineTasks(
  overrides: { name?: string; draw?: (rng: Rng) => number; size?: (index: number) => number; leak?: boolean; checkCount?: boolean } = {},
): TaskSampler {
  const { draw = (rng: Rng) => rng.uniform(-1, 1), size = () => 4, leak = false, checkCount = true } = overrides;
  const batch = (slope: number, n: number) => {
    const xs = Float32Array.from({ length: n }, (_, i) => i - 1.5);
    return {
      x: tf.tensor2d(xs, [n, 1]),
      y: tf.tensor2d(
        xs.map((x) => slope * x),
        [n, 1],
      ),
    };
  };
  return {
    name: overrides.name ?? "lines",
    sample(count: number, rng: Rng): Task[] {
      if (checkCount) expectInteger(count, "count", 1);
      return Array.from({ length: Math.max(0, Math.floor(count)) }, (_, index) => {
        const slope = draw(rng);
        if (leak) tf.keep(tf.scalar(slope)); // never disposed
        return { support: batch(slope, size(index)), query: batch(slope, size(index)) };
      });
    },
  };
}

describe("the task-sampler suite catches broken samplers", () => {
  it("passes a correct sampler", () => {
    expect(failingChecks(lineTasks())).toEqual([]);
  });

  it("catches a sampler that uses Math.random instead of the rng", () => {
    const failed = failingChecks(lineTasks({ draw: () => Math.random() }));
    expect(failed).toContain(SAME_SEED);
    expect(failed).toContain(USES_RNG); // the rng never advances
  });

  it("catches a sampler whose tasks differ in shape within one call", () => {
    expect(failingChecks(lineTasks({ size: (index) => 3 + index }))).toEqual([EQUAL_SHAPES]);
  });

  it("catches a leak", () => {
    expect(failingChecks(lineTasks({ leak: true }))).toEqual([NO_LEAKS]);
  });

  it("catches a sampler that accepts a bad count", () => {
    expect(failingChecks(lineTasks({ checkCount: false }))).toEqual([BAD_COUNT]);
  });

  it("catches an empty name", () => {
    expect(failingChecks(lineTasks({ name: "" }))).toEqual(["has a non-empty string name"]);
  });

  it("catches x and y with different numbers of examples, and non-finite values", () => {
    const mismatched: TaskSampler = {
      name: "mismatched",
      sample: (count, rng) => {
        expectInteger(count, "count", 1);
        return Array.from({ length: count }, () => {
          const value = rng.next();
          return { support: { x: tf.fill([3, 1], value), y: tf.fill([2, 1], value) }, query: { x: tf.fill([3, 1], value), y: tf.fill([3, 1], Number.NaN) } };
        });
      },
    };
    const failed = failingChecks(mismatched);
    expect(failed).toContain("sample(1) returns 1 tasks of support and query {x, y} tensors with as many x as y examples");
    expect(failed).toContain("x and y hold finite values");
  });
});
