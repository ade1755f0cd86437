import * as tf from "@tensorflow/tfjs-core";
import { createRng } from "@concord/core";
import { describeEachBackend } from "@concord/core/testing";
import { beforeAll, expect, it } from "vitest";
import { installFastTile } from "./fast.js";

/** out[i] = x[i mod shape] by coordinates: the definition of tile. */
function reference(values: ArrayLike<number>, shape: number[], reps: number[]): number[] {
  const outShape = shape.map((s, i) => s * reps[i]!);
  const size = outShape.reduce((a, b) => a * b, 1);
  return Array.from({ length: size }, (_, flat) => {
    let rest = flat;
    let index = 0;
    let stride = 1;
    const coords = outShape.map(() => 0);
    for (let d = outShape.length - 1; d >= 0; d--) {
      coords[d] = rest % outShape[d]!;
      rest = Math.floor(rest / outShape[d]!);
    }
    for (let d = shape.length - 1; d >= 0; d--) {
      index += (coords[d]! % shape[d]!) * stride;
      stride *= shape[d]!;
    }
    return values[index]!;
  });
}

describeEachBackend("fast Tile kernel", () => {
  beforeAll(() => {
    expect(installFastTile()).toBe(true);
  });
  const rng = createRng(3);
  const cases: [number[], number[]][] = [
    [
      [1, 40, 40],
      [25, 1, 1],
    ],
    [
      [25, 1, 1],
      [1, 10, 40],
    ],
    [[3], [4]],
    [
      [2, 3],
      [3, 2],
    ],
    [
      [2, 1, 3, 2],
      [2, 3, 1, 2],
    ],
    [
      [5, 4],
      [1, 1],
    ],
  ];
  for (const [shape, reps] of cases) {
    it(`tile [${shape}] by [${reps}] (float32 and int32), and broadcastTo`, () => {
      const size = shape.reduce((a, b) => a * b, 1);
      const values = rng.normalArray(size, 1);
      const ints = values.map((v) => Math.round(v * 100) + 0); // + 0: no -0, which int32 cannot hold
      const before = tf.memory().numTensors;
      const tiled = tf.tidy(() => tf.tile(tf.tensor(values, shape), reps));
      const tiledInts = tf.tidy(() => tf.tile(tf.tensor(ints, shape, "int32"), reps));
      expect(tiled.shape).toEqual(shape.map((s, i) => s * reps[i]!));
      expect(Array.from(tiled.dataSync())).toEqual(reference(Float32Array.from(values), shape, reps));
      expect(Array.from(tiledInts.dataSync())).toEqual(reference(ints, shape, reps));
      tf.dispose([tiled, tiledInts]);
      expect(tf.memory().numTensors).toBe(before);
    });
  }
  it("broadcastTo goes through the same kernel", () => {
    const out = tf.tidy(() => tf.broadcastTo(tf.tensor([[1, 2, 3]]), [2, 3]));
    expect(Array.from(out.dataSync())).toEqual([1, 2, 3, 1, 2, 3]);
    out.dispose();
  });
});
