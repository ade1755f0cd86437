import * as tf from "@tensorflow/tfjs-core";
import "@tensorflow/tfjs-backend-cpu";
import "@tensorflow/tfjs-backend-wasm";
import { createRng } from "@concord/core";
import { beforeAll, describe, expect, it } from "vitest";
import { installFastMaxPoolRoute } from "./fast.js";

/** Runs route and gather on `backend` (the cpu backend runs the gradient set's JavaScript reference). */
async function routeAndGather(backend: "cpu" | "wasm", x: Float32Array, shape: number[], dy: Float32Array, g: Float32Array, pad: "same" | "valid") {
  await tf.setBackend(backend);
  const attrs = { filterSize: 2, strides: 2, pad };
  return tf.tidy(() => {
    const xt = tf.tensor(x, shape);
    const outShape = tf.maxPool(xt as tf.Tensor4D, 2, 2, pad).shape;
    const route = tf
      .engine()
      .runKernel("ConcordMaxPoolRoute", { x: xt, dy: tf.tensor(dy.subarray(0, tf.util.sizeFromShape(outShape)), outShape) }, attrs) as tf.Tensor;
    const gather = tf.engine().runKernel("ConcordMaxPoolGather", { x: xt, g: tf.tensor(g, shape) }, attrs) as tf.Tensor;
    return { route: Array.from(route.dataSync()), gather: Array.from(gather.dataSync()) };
  });
}

describe("wasm max-pool route/gather equal the gradient set's reference kernels", () => {
  beforeAll(async () => {
    expect(await tf.setBackend("wasm")).toBe(true);
    await tf.ready();
    expect(installFastMaxPoolRoute()).toBe(true);
  });
  const rng = createRng(6);
  const cases: [number[], "same" | "valid"][] = [
    [[5, 28, 28, 64], "valid"],
    [[2, 7, 7, 3], "valid"],
    [[1, 5, 3, 2], "same"],
  ];
  for (const [shape, pad] of cases) {
    it(`x [${shape}], pad ${pad}`, async () => {
      const size = tf.util.sizeFromShape(shape);
      // Rounded values make ties common: the first maximum must win on both.
      const x = Float32Array.from(rng.normalArray(size, 1).map((v) => Math.round(v * 2) / 2));
      const dy = Float32Array.from(rng.normalArray(size, 1));
      const g = Float32Array.from(rng.normalArray(size, 1));
      const fast = await routeAndGather("wasm", x, shape, dy, g, pad);
      const reference = await routeAndGather("cpu", x, shape, dy, g, pad);
      expect(fast.route).toEqual(reference.route);
      expect(fast.gather).toEqual(reference.gather);
      expect(fast.route.some((v) => v !== 0)).toBe(true);
    });
  }

  it("routes −0 as the reference does (added to a zero: +0) and gathers it unchanged", async () => {
    const shape = [1, 4, 4, 2];
    const x = Float32Array.from({ length: 32 }, (_, i) => (i * 7) % 5);
    const minusZero = new Float32Array(32).fill(-0);
    const fast = await routeAndGather("wasm", x, shape, minusZero, minusZero, "valid");
    const reference = await routeAndGather("cpu", x, shape, minusZero, minusZero, "valid");
    expect(fast.route.every((v) => Object.is(v, 0))).toBe(true);
    expect(fast.gather.every((v) => Object.is(v, -0))).toBe(true);
    expect(fast).toEqual(reference);
  });
});
