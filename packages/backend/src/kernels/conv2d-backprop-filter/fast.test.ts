import * as tf from "@tensorflow/tfjs-core";
import "@tensorflow/tfjs-backend-wasm";
import { createRng } from "@concord/core";
import { relativeError } from "@concord/core/testing";
import { beforeAll, describe, expect, it } from "vitest";
import { installFastBatchMatMul } from "../batch-mat-mul/fast.js";
import { installFastConv2dBackpropFilter } from "./fast.js";

type Pad = "same" | "valid" | tf.backend_util.ExplicitPadding;
type Shape4 = [number, number, number, number];

/** dW[h,w,c,o] = Σ_{n,i,j} xpad[n, i+h, j+w, c]·dy[n,i,j,o] in float64. */
function reference(x: Float32Array, xShape: Shape4, dy: Float32Array, filterShape: Shape4, pad: Pad): Float64Array {
  const [batch, height, width, channels] = xShape;
  const [kh, kw, , outChannels] = filterShape;
  const info = tf.backend_util.computeConv2DInfo(xShape, filterShape, 1, 1, pad);
  const { top, left } = info.padInfo;
  const dw = new Float64Array(kh * kw * channels * outChannels);
  for (let n = 0; n < batch; n++)
    for (let i = 0; i < info.outHeight; i++)
      for (let j = 0; j < info.outWidth; j++)
        for (let h = 0; h < kh; h++)
          for (let w = 0; w < kw; w++) {
            const y = i + h - top;
            const z = j + w - left;
            if (y < 0 || y >= height || z < 0 || z >= width) continue;
            for (let c = 0; c < channels; c++)
              for (let o = 0; o < outChannels; o++)
                dw[((h * kw + w) * channels + c) * outChannels + o]! +=
                  x[((n * height + y) * width + z) * channels + c]! * dy[((n * info.outHeight + i) * info.outWidth + j) * outChannels + o]!;
          }
  return dw;
}

describe("im2col filter gradient on the wasm backend", () => {
  beforeAll(async () => {
    expect(await tf.setBackend("wasm")).toBe(true);
    await tf.ready();
    expect(installFastBatchMatMul() && installFastConv2dBackpropFilter()).toBe(true);
  });
  const rng = createRng(8);
  const cases: { x: Shape4; filter: Shape4; pad: Pad }[] = [
    { x: [5, 14, 14, 8], filter: [3, 3, 8, 6], pad: "same" },
    { x: [5, 28, 28, 1], filter: [3, 3, 1, 16], pad: "same" },
    { x: [2, 7, 6, 3], filter: [2, 3, 3, 4], pad: "valid" },
    {
      x: [1, 5, 5, 2],
      filter: [3, 3, 2, 2],
      pad: [
        [0, 0],
        [2, 0],
        [1, 1],
        [0, 0],
      ],
    },
  ];
  for (const { x, filter, pad } of cases) {
    it(`x [${x}], filter [${filter}], pad ${JSON.stringify(pad)}: equals the definition`, () => {
      const info = tf.backend_util.computeConv2DInfo(x, filter, 1, 1, pad);
      const dyShape: Shape4 = [x[0], info.outHeight, info.outWidth, filter[3]];
      const xValues = Float32Array.from(
        rng.normalArray(
          x.reduce((a, b) => a * b, 1),
          1,
        ),
      );
      const dyValues = Float32Array.from(
        rng.normalArray(
          dyShape.reduce((a, b) => a * b, 1),
          1,
        ),
      );
      const before = tf.memory().numTensors;
      const dw = tf.tidy(
        () =>
          tf
            .engine()
            .runKernel(
              "ConcordConv2DBackpropFilter",
              { x: tf.tensor4d(xValues, x), dy: tf.tensor4d(dyValues, dyShape) },
              { filterShape: filter, pad },
            ) as tf.Tensor,
      );
      expect(dw.shape).toEqual(filter);
      expect(relativeError(dw.dataSync(), reference(xValues, x, dyValues, filter, pad))).toBeLessThan(1e-5);
      dw.dispose();
      expect(tf.memory().numTensors).toBe(before);
    });
  }
});
