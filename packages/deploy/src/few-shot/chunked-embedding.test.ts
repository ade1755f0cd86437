// supportPass: one forward pass over a support set, block by block and a few images at a time.
import * as tf from "@tensorflow/tfjs-core";
import "@tensorflow/tfjs-backend-cpu";
import { createRng, type Params } from "@concord/core";
import { relativeError } from "@concord/core/testing";
import { type ConvNetModel, convNet } from "@concord/models";
import { beforeAll, describe, expect, it } from "vitest";
import { chunks, supportPass, supportPassTicks } from "./chunked-embedding.js";

beforeAll(async () => {
  await tf.setBackend("cpu");
});

const small = { ways: 0, inputShape: [8, 8, 1] as [number, number, number], filters: 4, blocks: 2 };

/** Random parameters everywhere (not the init's zeros and ones), so batch norm's scale and offset matter. */
function randomParams(model: ConvNetModel, seed: number): Params {
  const rng = createRng(seed);
  const params = model.init(rng);
  const out = Object.fromEntries(
    Object.entries(params).map(([name, value]) => [name, tf.tensor(Float32Array.from(rng.normalArray(value.size, 0.4)), value.shape, "float32")]),
  );
  tf.dispose(Object.values(params));
  return out;
}

function images(count: number, seed: number): tf.Tensor4D {
  const rng = createRng(seed);
  return tf.tensor4d(
    Float32Array.from({ length: count * 64 }, () => rng.uniform(0, 1)),
    [count, 8, 8, 1],
  );
}

const noPause = async () => {};

describe("supportPass", () => {
  it("gives batchNormStatistics of the whole set, and embeddings equal to forward with them, chunk by chunk", async () => {
    const model = convNet({ ...small, batchNorm: "support" });
    const params = randomParams(model, 1);
    const x = images(7, 2);
    let pauses = 0;
    const { statistics, embeddings } = await supportPass(
      model,
      params,
      x,
      3,
      async () => {
        pauses += 1;
      },
      { embeddings: true },
    );
    expect(pauses).toBe(supportPassTicks(model, 7, 3, { embeddings: true }));
    expect(pauses).toBe(2 * 3 * 2);
    const whole = model.batchNormStatistics(params, x);
    for (let block = 0; block < 2; block++) {
      expect(relativeError(statistics!.mean[block]!.dataSync(), whole.mean[block]!.dataSync())).toBeLessThan(1e-5);
      expect(relativeError(statistics!.variance[block]!.dataSync(), whole.variance[block]!.dataSync())).toBeLessThan(1e-5);
    }
    // Row for row what forward gives a chunk with the same statistics (same ops on the same values).
    for (const [start, size] of chunks(7, 3)) {
      const expected = tf.tidy(() => model.forward(params, tf.slice(x, [start], [size]), statistics));
      const got = tf.slice(embeddings!, [start], [size]);
      expect(Array.from(got.dataSync())).toEqual(Array.from(expected.dataSync()));
      tf.dispose([expected, got]);
    }
    tf.dispose([x, embeddings!, ...statistics!.mean, ...statistics!.variance, ...whole.mean, ...whole.variance, ...Object.values(params)]);
  });

  it("gives the same statistics without embeddings, and embeddings without batch norm", async () => {
    const model = convNet({ ...small, batchNorm: "support" });
    const params = randomParams(model, 3);
    const x = images(5, 4);
    const withEmbeddings = await supportPass(model, params, x, 2, noPause, { embeddings: true });
    let alonePauses = 0;
    const alone = await supportPass(
      model,
      params,
      x,
      2,
      async () => {
        alonePauses += 1;
      },
      { embeddings: false },
    );
    // 5 images in chunks of 2 (3 chunks): moments of both blocks, outputs of the first only.
    expect(alonePauses).toBe(supportPassTicks(model, 5, 2, { embeddings: false }));
    expect(alonePauses).toBe(3 * 3);
    expect(alone.embeddings).toBeUndefined();
    for (let block = 0; block < 2; block++) {
      expect(Array.from(alone.statistics!.variance[block]!.dataSync())).toEqual(Array.from(withEmbeddings.statistics!.variance[block]!.dataSync()));
    }
    const plain = convNet({ ...small, batchNorm: "none" });
    const plainParams = randomParams(plain, 5);
    let pauses = 0;
    const { statistics, embeddings } = await supportPass(
      plain,
      plainParams,
      x,
      2,
      async () => {
        pauses += 1;
      },
      { embeddings: true },
    );
    expect(statistics).toBeUndefined();
    expect(pauses).toBe(supportPassTicks(plain, 5, 2, { embeddings: true }));
    const expected = plain.forward(plainParams, x);
    expect(relativeError(embeddings!.dataSync(), expected.dataSync())).toBeLessThan(1e-6);
    tf.dispose([x, expected, embeddings!, withEmbeddings.embeddings!, ...withEmbeddings.statistics!.mean, ...withEmbeddings.statistics!.variance]);
    tf.dispose([...alone.statistics!.mean, ...alone.statistics!.variance, ...Object.values(params), ...Object.values(plainParams)]);
  });

  it("leaks no tensors, whether it finishes or its pause throws midway", async () => {
    const model = convNet({ ...small, batchNorm: "support" });
    const params = randomParams(model, 6);
    const x = images(6, 7);
    const run = async () => {
      const { statistics, embeddings } = await supportPass(model, params, x, 2, noPause, { embeddings: true });
      tf.dispose([embeddings!, ...statistics!.mean, ...statistics!.variance]);
    };
    await run();
    const before = tf.memory().numTensors;
    for (let i = 0; i < 3; i++) await run();
    expect(tf.memory().numTensors).toBe(before);
    for (const failAt of [1, 4, 7, 11]) {
      let calls = 0;
      const failing = async () => {
        calls += 1;
        if (calls === failAt) throw new Error("stopped");
      };
      await expect(supportPass(model, params, x, 2, failing, { embeddings: true })).rejects.toThrow("stopped");
      expect(tf.memory().numTensors).toBe(before);
    }
    tf.dispose([x, ...Object.values(params)]);
  });
});
