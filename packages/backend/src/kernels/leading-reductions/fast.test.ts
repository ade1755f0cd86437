import * as tf from "@tensorflow/tfjs-core";
import "@tensorflow/tfjs-backend-wasm";
import { createRng } from "@concord/core";
import { relativeError } from "@concord/core/testing";
import { beforeAll, describe, expect, it } from "vitest";
import { installFastLeadingReductions } from "./fast.js";

/** Float64 sums (or means) over `count` axes starting at axis `first` (one result block per outer index). */
function reference(values: Float32Array, shape: number[], count: number, mean: boolean, first = 0): Float64Array {
  const outer = shape.slice(0, first).reduce((a, b) => a * b, 1);
  const rows = shape.slice(first, first + count).reduce((a, b) => a * b, 1);
  const cols = values.length / (outer * rows);
  const out = new Float64Array(outer * cols);
  for (let o = 0; o < outer; o++) {
    for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[o * cols + c]! += values[(o * rows + r) * cols + c]!;
  }
  return mean ? out.map((v) => v / rows) : out;
}

describe("fast leading-axis Sum and Mean on the wasm backend", () => {
  beforeAll(async () => {
    expect(await tf.setBackend("wasm")).toBe(true);
    await tf.ready();
    expect(installFastLeadingReductions()).toBe(true);
  });
  const rng = createRng(2);
  const cases: [shape: number[], axes: number[]][] = [
    [
      [5, 28, 28, 64],
      [0, 1, 2],
    ],
    [
      [5, 7, 7, 64],
      [2, 0, 1],
    ],
    [[3, 5, 7], [0]],
    [
      [4, 6, 2],
      [0, 1],
    ],
    [[9, 3], [0]],
  ];
  for (const [shape, axes] of cases) {
    for (const op of ["sum", "mean"] as const) {
      for (const keepDims of [false, true]) {
        it(`${op} of [${shape}] over [${axes}], keepDims ${keepDims}`, () => {
          const values = Float32Array.from(
            rng.normalArray(
              shape.reduce((a, b) => a * b, 1),
              1,
            ),
          );
          const before = tf.memory().numTensors;
          const reduce = op === "sum" ? tf.sum : tf.mean;
          const out = tf.tidy(() => reduce(tf.tensor(values, shape), axes, keepDims));
          const kept = shape.map((size, i) => (axes.includes(i) ? 1 : size));
          expect(out.shape).toEqual(keepDims ? kept : shape.filter((_, i) => !axes.includes(i)));
          expect(relativeError(out.dataSync(), reference(values, shape, axes.length, op === "mean"))).toBeLessThan(1e-5);
          out.dispose();
          expect(tf.memory().numTensors).toBe(before);
        });
      }
    }
  }
  // Batched execution's per-task moments and bias gradients: [T, N, C] over N.
  const middle: [shape: number[], axes: number[]][] = [
    [[32, 1960, 64], [1]],
    [
      [3, 4, 5, 6, 2],
      [3, 2],
    ],
    [[2, 1, 7], [1]],
  ];
  for (const [shape, axes] of middle) {
    for (const op of ["sum", "mean"] as const) {
      it(`${op} of [${shape}] over the inner axes [${axes}] (keepDims)`, () => {
        const values = Float32Array.from(
          rng.normalArray(
            shape.reduce((a, b) => a * b, 1),
            1,
          ),
        );
        const before = tf.memory().numTensors;
        const out = tf.tidy(() => (op === "sum" ? tf.sum : tf.mean)(tf.tensor(values, shape), axes, true));
        expect(out.shape).toEqual(shape.map((size, i) => (axes.includes(i) ? 1 : size)));
        expect(relativeError(out.dataSync(), reference(values, shape, axes.length, op === "mean", Math.min(...axes)))).toBeLessThan(1e-5);
        out.dispose();
        expect(tf.memory().numTensors).toBe(before);
      });
    }
  }

  it("leaves other reductions to the original kernels", () => {
    const out = tf.tidy(() => tf.sum(tf.tensor2d([1, 2, 3, 4], [2, 2]), 1));
    expect(Array.from(out.dataSync())).toEqual([3, 7]);
    out.dispose();
  });
});
