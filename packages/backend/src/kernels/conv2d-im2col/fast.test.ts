import * as tf from "@tensorflow/tfjs-core";
import "@tensorflow/tfjs-backend-wasm";
import { createRng } from "@concord/core";
import { relativeError } from "@concord/core/testing";
import { beforeAll, describe, expect, it } from "vitest";
import { installFastBatchMatMul } from "../batch-mat-mul/fast.js";
import { installFastConv2dBackpropInput } from "../conv2d-backprop-input/fast.js";
import { installIm2colConv2d } from "./fast.js";

type Pad = "same" | "valid" | tf.backend_util.ExplicitPadding;
type Shape4 = [number, number, number, number];

/** conv2d by definition in float64 (stride 1): out[n,i,j,o] = Σ x[n, i+h−top, j+w−left, c]·W[h,w,c,o]. */
function reference(x: Float32Array, xShape: Shape4, filter: Float32Array, filterShape: Shape4, pad: Pad) {
  const [batch, height, width, channels] = xShape;
  const [kh, kw, , outChannels] = filterShape;
  const info = tf.backend_util.computeConv2DInfo(xShape, filterShape, 1, 1, pad);
  const { top, left } = info.padInfo;
  const out = new Float64Array(batch * info.outHeight * info.outWidth * outChannels);
  for (let n = 0; n < batch; n++)
    for (let i = 0; i < info.outHeight; i++)
      for (let j = 0; j < info.outWidth; j++)
        for (let o = 0; o < outChannels; o++) {
          let sum = 0;
          for (let h = 0; h < kh; h++)
            for (let w = 0; w < kw; w++) {
              const y = i + h - top;
              const z = j + w - left;
              if (y < 0 || y >= height || z < 0 || z >= width) continue;
              for (let c = 0; c < channels; c++)
                sum += x[((n * height + y) * width + z) * channels + c]! * filter[((h * kw + w) * channels + c) * outChannels + o]!;
            }
          out[((n * info.outHeight + i) * info.outWidth + j) * outChannels + o] = sum;
        }
  return out;
}

describe("im2col Conv2D for filters larger than the output (wasm)", () => {
  beforeAll(async () => {
    expect(await tf.setBackend("wasm")).toBe(true);
    await tf.ready();
    expect(installFastBatchMatMul() && installIm2colConv2d() && installFastConv2dBackpropInput()).toBe(true);
  });
  const rng = createRng(4);
  const cases: { x: Shape4; filter: Shape4; pad: Pad }[] = [
    // The filter gradient of a 5-image 14×14×8 → 6 'same' layer, as Concord's Conv2D gradient runs it.
    {
      x: [8, 14, 14, 5],
      filter: [14, 14, 5, 6],
      pad: [
        [0, 0],
        [1, 1],
        [1, 1],
        [0, 0],
      ],
    },
    {
      x: [1, 28, 28, 5],
      filter: [28, 28, 5, 4],
      pad: [
        [0, 0],
        [1, 1],
        [1, 1],
        [0, 0],
      ],
    },
    { x: [3, 9, 7, 2], filter: [8, 6, 2, 3], pad: "valid" },
    { x: [2, 3, 3, 2], filter: [4, 4, 2, 3], pad: "same" },
    // Small filter: the original (XNNPACK) kernel.
    { x: [2, 6, 6, 3], filter: [3, 3, 3, 4], pad: "same" },
  ];
  for (const { x, filter, pad } of cases) {
    it(`x [${x}], filter [${filter}], pad ${JSON.stringify(pad)}: equals the definition`, () => {
      const xValues = Float32Array.from(
        rng.normalArray(
          x.reduce((a, b) => a * b, 1),
          1,
        ),
      );
      const filterValues = Float32Array.from(
        rng.normalArray(
          filter.reduce((a, b) => a * b, 1),
          1,
        ),
      );
      const before = tf.memory().numTensors;
      const out = tf.tidy(() => tf.conv2d(tf.tensor4d(xValues, x), tf.tensor4d(filterValues, filter), 1, pad));
      const info = tf.backend_util.computeConv2DInfo(x, filter, 1, 1, pad);
      expect(out.shape).toEqual([x[0], info.outHeight, info.outWidth, filter[3]]);
      expect(relativeError(out.dataSync(), reference(xValues, x, filterValues, filter, pad))).toBeLessThan(1e-5);
      out.dispose();
      expect(tf.memory().numTensors).toBe(before);
    });
  }
});
