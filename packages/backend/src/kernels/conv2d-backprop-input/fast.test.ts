import * as tf from "@tensorflow/tfjs-core";
import "@tensorflow/tfjs-backend-cpu";
import "@tensorflow/tfjs-backend-wasm";
import { createRng } from "@concord/core";
import { relativeError } from "@concord/core/testing";
import { beforeAll, describe, expect, it } from "vitest";
import { installFastConv2dBackpropInput } from "./fast.js";

/** dx of conv2d(x, W) by definition, in float64: dx[n,h,w,c] = Σ dy[n,y,x,o]·W[h−y·s+top, w−x·s+left, c, o]. */
function reference(dy: Float32Array, dyShape: number[], filter: Float32Array, filterShape: number[], inputShape: number[], pad: "same" | "valid") {
  const [batch, height, width, channels] = inputShape as [number, number, number, number];
  const [kh, kw, , outChannels] = filterShape as [number, number, number, number];
  const [, outH, outW] = dyShape as [number, number, number, number];
  const info = tf.backend_util.computeConv2DInfo(inputShape as [number, number, number, number], filterShape as [number, number, number, number], 1, 1, pad);
  const { top, left } = info.padInfo;
  const dx = new Float64Array(batch * height * width * channels);
  for (let n = 0; n < batch; n++)
    for (let y = 0; y < outH; y++)
      for (let x = 0; x < outW; x++)
        for (let i = 0; i < kh; i++)
          for (let j = 0; j < kw; j++) {
            const h = y + i - top;
            const w = x + j - left;
            if (h < 0 || h >= height || w < 0 || w >= width) continue;
            for (let c = 0; c < channels; c++)
              for (let o = 0; o < outChannels; o++) {
                dx[((n * height + h) * width + w) * channels + c]! +=
                  dy[((n * outH + y) * outW + x) * outChannels + o]! * filter[((i * kw + j) * channels + c) * outChannels + o]!;
              }
          }
  return dx;
}

describe("fast Conv2DBackpropInput on the wasm backend", () => {
  beforeAll(async () => {
    expect(await tf.setBackend("wasm")).toBe(true);
    await tf.ready();
    expect(installFastConv2dBackpropInput()).toBe(true);
  });
  const rng = createRng(11);
  const cases: { input: number[]; filter: number[]; pad: "same" | "valid" }[] = [
    { input: [5, 14, 14, 8], filter: [3, 3, 8, 6], pad: "same" },
    { input: [2, 7, 7, 3], filter: [3, 3, 3, 4], pad: "valid" },
    { input: [3, 6, 5, 2], filter: [2, 3, 2, 5], pad: "same" },
    { input: [1, 4, 4, 1], filter: [1, 1, 1, 1], pad: "valid" },
  ];
  for (const { input, filter, pad } of cases) {
    it(`input [${input}], filter [${filter}], pad ${pad}: equals the definition`, () => {
      const info = tf.backend_util.computeConv2DInfo(input as [number, number, number, number], filter as [number, number, number, number], 1, 1, pad);
      const dyShape = [input[0]!, info.outHeight, info.outWidth, filter[3]!];
      const dyValues = Float32Array.from(
        rng.normalArray(
          dyShape.reduce((a, b) => a * b, 1),
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
      const dx = tf.tidy(() =>
        tf.conv2dTranspose(
          tf.tensor4d(dyValues, dyShape as [number, number, number, number]),
          tf.tensor4d(filterValues, filter as [number, number, number, number]),
          input as [number, number, number, number],
          1,
          pad,
        ),
      );
      expect(dx.shape).toEqual(input);
      expect(relativeError(dx.dataSync(), reference(dyValues, dyShape, filterValues, filter, input, pad))).toBeLessThan(1e-5);
      dx.dispose();
      expect(tf.memory().numTensors).toBe(before);
    });
  }
});
