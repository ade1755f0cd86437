// Support statistics and embeddings computed a few images at a time, yielding to the page between
// pieces of work, so that adapting to a large support set never blocks for long.
import * as tf from "@tensorflow/tfjs-core";
import type { Params } from "@concord/core";
import type { BatchNormStatistics, ConvNetModel } from "@concord/models";

/** Awaited between pieces of work; yields to the event loop once the current slice is over budget. */
export type Pause = () => Promise<void>;

/**
 * A Pause that lets the event loop run (a macrotask, so rendering and input get a turn) whenever
 * `budgetMs` have passed since the last yield. Each piece of work waits for the backend first
 * (`data()`), so an asynchronous backend (webgl) is not left with a long queue.
 */
export function timeSlicer(budgetMs: number): Pause {
  let sliceStart = performance.now();
  return async () => {
    if (performance.now() - sliceStart < budgetMs) return;
    await nextTask();
    sliceStart = performance.now();
  };
}

/**
 * Resolves in a new macrotask: through a MessageChannel where there is one (browsers clamp nested
 * setTimeout(0) to 4 ms; a message is not clamped), else setTimeout.
 */
function nextTask(): Promise<void> {
  const Channel = (
    globalThis as unknown as {
      MessageChannel?: new () => { port1: { onmessage: (() => void) | null; close(): void }; port2: { postMessage(m: unknown): void; close(): void } };
    }
  ).MessageChannel;
  if (!Channel) return new Promise((resolve) => setTimeout(resolve, 0));
  return new Promise((resolve) => {
    const channel = new Channel();
    channel.port1.onmessage = () => {
      channel.port1.close();
      channel.port2.close();
      resolve();
    };
    channel.port2.postMessage(null);
  });
}

/** Consecutive [start, size] ranges of at most `chunkSize` of `count` rows. */
export function chunks(count: number, chunkSize: number): [number, number][] {
  const ranges: [number, number][] = [];
  for (let start = 0; start < count; start += chunkSize) ranges.push([start, Math.min(chunkSize, count - start)]);
  return ranges;
}

/**
 * The model's batch-norm statistics of `support` (batchNormStatistics(params, support), up to
 * float rounding), block by block and `chunkSize` images at a time: each chunk's moments of the
 * block's pre-activations are merged with Chan, Golub & LeVeque's pairwise update,
 * M2 = M2_a + M2_b + δ²·n_a·n_b/n, in float64. undefined for a model without batch norm.
 */
export async function chunkedStatistics(
  model: ConvNetModel,
  params: Params,
  support: tf.Tensor4D,
  chunkSize: number,
  pause: Pause,
): Promise<BatchNormStatistics | undefined> {
  if (model.batchNorm === "none") return undefined;
  const found: { mean: tf.Tensor[]; variance: tf.Tensor[] } = { mean: [], variance: [] };
  try {
    for (let block = 0; block < model.blocks; block++) {
      let merged: { n: number; mean: Float64Array; m2: Float64Array } | undefined;
      for (const [start, size] of chunks(support.shape[0], chunkSize)) {
        const moments = tf.tidy(() => {
          const { mean, variance } = model.blockMoments(params, tf.slice(support, [start], [size]), block, found);
          return tf.stack([mean, variance]);
        });
        const values = (await moments.data()) as Float32Array;
        moments.dispose();
        const channels = values.length / 2;
        const positions = size * (values.length > 0 ? positionsPerImage(model, block) : 0);
        const mean = Float64Array.from(values.subarray(0, channels));
        const m2 = Float64Array.from(values.subarray(channels), (v) => v * positions);
        if (!merged) merged = { n: positions, mean, m2 };
        else {
          const total = merged.n + positions;
          const before = merged;
          merged = {
            n: total,
            mean: before.mean.map((a, c) => a + ((mean[c]! - a) * positions) / total),
            m2: before.m2.map((a, c) => a + m2[c]! + ((mean[c]! - before.mean[c]!) ** 2 * before.n * positions) / total),
          };
        }
        await pause();
      }
      found.mean.push(tf.tensor1d(Float32Array.from(merged!.mean)));
      found.variance.push(tf.tensor1d(Float32Array.from(merged!.m2, (v) => v / merged!.n)));
    }
    return found;
  } catch (error) {
    tf.dispose([...found.mean, ...found.variance]);
    throw error;
  }
}

/** Pixels per image at block `block`'s convolution: the input size halved (rounded down) once per earlier block. */
function positionsPerImage(model: ConvNetModel, block: number): number {
  let [height, width] = model.inputShape;
  for (let b = 0; b < block; b++) {
    height = Math.floor(height / 2);
    width = Math.floor(width / 2);
  }
  return height * width;
}

/** f_θ(x | statistics), `chunkSize` images at a time (each row depends only on its own image). [K, D]. */
export async function chunkedEmbeddings(
  model: ConvNetModel,
  params: Params,
  x: tf.Tensor4D,
  statistics: BatchNormStatistics | undefined,
  chunkSize: number,
  pause: Pause,
): Promise<tf.Tensor2D> {
  const parts: tf.Tensor[] = [];
  try {
    for (const [start, size] of chunks(x.shape[0], chunkSize)) {
      const part = tf.tidy(() => model.forward(params, tf.slice(x, [start], [size]), statistics));
      parts.push(part);
      await part.data();
      await pause();
    }
    return tf.tidy(() => tf.concat(parts) as tf.Tensor2D);
  } finally {
    tf.dispose(parts);
  }
}

export function disposeStatistics(statistics: BatchNormStatistics | undefined): void {
  if (statistics) tf.dispose([...statistics.mean, ...statistics.variance]);
}
