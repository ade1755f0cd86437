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

/** What one pass over a support set gives: its batch-norm statistics and, when asked, its embeddings. */
export interface SupportPass {
  /** undefined for a model without batch norm. */
  readonly statistics: BatchNormStatistics | undefined;
  /** f_θ(x | statistics), [K, featureSize]; only with `embeddings: true`. */
  readonly embeddings?: tf.Tensor2D;
}

/**
 * Pieces of work (pause calls) of one supportPass over `count` images: per block, one per chunk, and
 * with batch norm one more per chunk for the block's outputs (moments first, then outputs), except
 * the last block's outputs when only the statistics are asked for.
 */
export function supportPassTicks(model: ConvNetModel, count: number, chunkSize: number, options: { embeddings: boolean }): number {
  const perBlock = chunks(count, chunkSize).length;
  if (model.batchNorm === "none") return model.blocks * perBlock;
  return (2 * model.blocks - (options.embeddings ? 0 : 1)) * perBlock;
}

/**
 * The support set's batch-norm statistics (batchNormStatistics(params, support), up to float
 * rounding) and, with `embeddings`, f_θ(support | statistics), as ONE forward pass run block by
 * block and `chunkSize` images at a time. Each chunk's output of a block is kept for the next
 * block, so nothing is recomputed; a block's moments are merged over the chunks with Chan, Golub &
 * LeVeque's pairwise update, M2 = M2_a + M2_b + δ²·n_a·n_b/n, in float64, before any chunk is
 * normalised with them. Embeddings equal model.forward(params, chunk, statistics) row for row.
 */
export async function supportPass(
  model: ConvNetModel,
  params: Params,
  support: tf.Tensor4D,
  chunkSize: number,
  pause: Pause,
  options: { embeddings: boolean },
): Promise<SupportPass> {
  // `hidden`: each chunk's input to the current block (its images, then the previous block's output).
  let hidden: tf.Tensor4D[] = chunks(support.shape[0], chunkSize).map(([start, size]) => tf.slice(support, [start], [size]));
  let preactivations: tf.Tensor4D[] = [];
  const found: { mean: tf.Tensor[]; variance: tf.Tensor[] } = { mean: [], variance: [] };
  const useBatchNorm = model.batchNorm !== "none";
  try {
    for (let block = 0; block < model.blocks; block++) {
      // Without batch norm a block's output needs nothing from the other chunks: one loop.
      if (!useBatchNorm) {
        hidden = replace(
          hidden,
          await mapChunks(hidden, (h) => tf.tidy(() => model.blockOutput(params, model.blockPreactivation(params, h, block), block)), pause),
        );
        continue;
      }
      let merged: Moments | undefined;
      preactivations = await mapChunks(
        hidden,
        async (h) => {
          const z = model.blockPreactivation(params, h, block);
          const moments = tf.tidy(() => {
            const { mean, variance } = tf.moments(z, [0, 1, 2]);
            return tf.stack([mean, variance]);
          });
          const values = (await moments.data()) as Float32Array;
          moments.dispose();
          merged = mergeMoments(merged, values, z.shape[0] * z.shape[1] * z.shape[2]);
          return z;
        },
        pause,
      );
      hidden = replace(hidden, []);
      found.mean.push(tf.tensor1d(Float32Array.from(merged!.mean)));
      found.variance.push(tf.tensor1d(Float32Array.from(merged!.m2, (v) => v / merged!.n)));
      // The last block's outputs are the embeddings: not needed for statistics alone.
      if (block === model.blocks - 1 && !options.embeddings) break;
      const moments = { mean: found.mean[block]!, variance: found.variance[block]! };
      hidden = await mapChunks(preactivations, (z) => model.blockOutput(params, z, block, moments), pause);
      preactivations = replace(preactivations, []);
    }
    const statistics = useBatchNorm ? found : undefined;
    if (!options.embeddings) return { statistics };
    const embeddings = tf.tidy(() => tf.concat(hidden.map((h) => tf.reshape(h, [h.shape[0], model.featureSize]))) as tf.Tensor2D);
    return { statistics, embeddings };
  } catch (error) {
    tf.dispose([...found.mean, ...found.variance]);
    throw error;
  } finally {
    tf.dispose([...hidden, ...preactivations]);
  }
}

/** Disposes `old` and returns `next` (a pass's intermediates, replaced block by block). */
function replace(old: tf.Tensor4D[], next: tf.Tensor4D[]): tf.Tensor4D[] {
  tf.dispose(old);
  return next;
}

/** f over each chunk in turn, awaiting the backend and pausing after each; on an error the results so far are disposed. */
async function mapChunks(inputs: readonly tf.Tensor4D[], f: (input: tf.Tensor4D) => tf.Tensor4D | Promise<tf.Tensor4D>, pause: Pause): Promise<tf.Tensor4D[]> {
  const outputs: tf.Tensor4D[] = [];
  try {
    for (const input of inputs) {
      const output = await f(input);
      outputs.push(output);
      await output.data();
      await pause();
    }
    return outputs;
  } catch (error) {
    tf.dispose(outputs);
    throw error;
  }
}

interface Moments {
  readonly n: number;
  readonly mean: Float64Array;
  readonly m2: Float64Array;
}

/** Chan et al.'s merge of a chunk's float32 [mean…, variance…] over `n` positions into the running float64 moments. */
function mergeMoments(merged: Moments | undefined, values: Float32Array, n: number): Moments {
  const channels = values.length / 2;
  const mean = Float64Array.from(values.subarray(0, channels));
  const m2 = Float64Array.from(values.subarray(channels), (v) => v * n);
  if (!merged) return { n, mean, m2 };
  const total = merged.n + n;
  return {
    n: total,
    mean: merged.mean.map((a, c) => a + ((mean[c]! - a) * n) / total),
    m2: merged.m2.map((a, c) => a + m2[c]! + ((mean[c]! - merged.mean[c]!) ** 2 * merged.n * n) / total),
  };
}

export function disposeStatistics(statistics: BatchNormStatistics | undefined): void {
  if (statistics) tf.dispose([...statistics.mean, ...statistics.variance]);
}
