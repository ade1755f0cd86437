import * as tf from "@tensorflow/tfjs-core";
import { BATCH_NORM_KERNEL, type BatchNormAttrs, ConcordError, expect, expectInteger, expectNumber } from "@concord/core";
import type { Model, Params, Rng } from "@concord/core";
import { batchNormReluBatched, convolve3x3Batched, fusedBatchNormUsable } from "./conv-net-batched.js";
import { checkShape, describeValue } from "./tensor-checks.js";

/**
 * How batch normalisation gets its statistics.
 * - "transductive": the mean and variance of the batch being run (per task: its support set while
 *   adapting, its query set when evaluated), no running averages. This is what MAML's reference code
 *   does at training *and* test time (Finn et al. 2017; Nichol et al. 2018 call it transductive).
 * - "support": the mean and variance of the task's support set, for the support set and for every
 *   query image alike (MetaBN in Bronskill et al. 2020, "TaskNorm: Rethinking Batch Normalization for
 *   Meta-Learning"): `forward` must be given `batchNormStatistics(params, support)`, never computes
 *   moments of the batch it runs, so an image's output does not depend on its batch-mates. The
 *   parameters are the same as "transductive" ones (a transductively trained model can run so).
 * - "none": no normalisation layer at all (scale/offset parameters are then absent).
 */
export type ConvNetBatchNorm = "transductive" | "support" | "none";

/**
 * How each block halves the feature map.
 * - "max-pool": a stride-1 convolution, then a 2×2 max-pool after the ReLU (28 → 14 → 7 → 3 → 1);
 *   the flattened last map enters the head (Vinyals et al. 2016; MAML's MiniImagenet runs).
 * - "strided": a stride-2 'same' convolution and no pool (28 → 14 → 7 → 4 → 2), then the mean of the
 *   last map over its pixels enters the head: MAML's Omniglot code (`--max_pool=False`, its default).
 */
export type ConvNetDownsample = "max-pool" | "strided";

/** The head's initial weights: Glorot uniform, or N(0, 1) as MAML's code draws them (`tf.random_normal`). */
export type ConvNetHeadInit = "glorot" | "normal";

/**
 * The moments each batch-norm layer normalises with: per block, the per-channel mean and variance
 * ([filters] each) of that block's pre-activations over a batch's examples and pixels.
 */
export interface BatchNormStatistics {
  readonly mean: readonly tf.Tensor[];
  readonly variance: readonly tf.Tensor[];
}

export interface ConvNetOptions {
  /**
   * N: classes per task, the number of logits. 0: no head, the model is an embedding network whose
   * `forward` returns the flattened features [K, featureSize] (what Prototypical Networks compare).
   */
  readonly ways: number;
  /** [height, width, channels] of one image (NHWC). Default [28, 28, 1] (Omniglot as MAML resizes it). */
  readonly inputShape?: readonly [number, number, number];
  /** Convolution filters per block. Default 64. */
  readonly filters?: number;
  /** conv → batch norm → ReLU → 2×2 max-pool blocks. Default 4. */
  readonly blocks?: number;
  /** Batch-norm policy. Default "transductive". */
  readonly batchNorm?: ConvNetBatchNorm;
  /** ε added to the variance. Default 1e-3 (TensorFlow's batch_norm default, which MAML's code uses). */
  readonly batchNormEpsilon?: number;
  /**
   * Whether batch norm has a learned scale γ. false: an offset β only (γ = 1, no "bn/scale"
   * parameter), as MAML's code has it (tf.contrib.layers.batch_norm defaults to scale=False). Default true.
   */
  readonly batchNormScale?: boolean;
  /** How each block halves the map (see ConvNetDownsample). Default "max-pool". */
  readonly downsample?: ConvNetDownsample;
  /** The head's initial weights. Default "glorot". */
  readonly headInit?: ConvNetHeadInit;
  /** Model name reported in results and checkpoints. Default "conv-net". */
  readonly name?: string;
}

/** A convNet model that also knows its architecture. */
export interface ConvNetModel extends Model {
  /** The linear output layer's weight and bias (what ANIL adapts); empty for an embedding network (ways 0). */
  readonly head: readonly string[];
  readonly ways: number;
  readonly inputShape: readonly [number, number, number];
  readonly filters: number;
  readonly blocks: number;
  readonly batchNorm: ConvNetBatchNorm;
  /** false: batch norm has an offset and no scale (no "bn/scale" parameters). */
  readonly batchNormScale: boolean;
  readonly downsample: ConvNetDownsample;
  /**
   * Length of the feature vector that enters the linear head (h·w·filters after the last pool;
   * filters with downsample "strided", whose last map is averaged); the output size when ways is 0.
   */
  readonly featureSize: number;
  /** Parameter names in flattening order. */
  readonly parameterNames: readonly string[];
  /**
   * Logits [K, ways] (features [K, featureSize] when ways is 0). With `statistics`, every batch-norm
   * layer normalises with them instead of the moments of x, so each row depends only on its own image;
   * batchNorm "support" requires them, "none" refuses them.
   */
  forward(params: Params, x: tf.Tensor, statistics?: BatchNormStatistics): tf.Tensor;
  /**
   * The moments each batch-norm layer sees when `support` is run with its own statistics (one
   * transductive pass over the support set): what batchNorm "support" normalises support and query
   * images with. Differentiable with respect to `params`. Empty lists for batchNorm "none".
   */
  batchNormStatistics(params: Params, support: tf.Tensor): BatchNormStatistics;
  /**
   * The moments of block `block`'s pre-activations over x's examples and pixels, with the earlier
   * blocks normalised by `earlier` (its first `block` entries). batchNormStatistics(params, S) is this
   * for block = 0, 1, … with `earlier` the moments found so far, so a caller can compute the support
   * statistics a few images at a time and merge the per-chunk moments (an app that must not block).
   */
  blockMoments(params: Params, x: tf.Tensor, block: number, earlier: BatchNormStatistics): { mean: tf.Tensor; variance: tf.Tensor };
  /**
   * Block `block` alone, for a caller that runs the body one block at a time and keeps each block's
   * output, so that statistics and embeddings of a support set cost one forward pass in pieces:
   * z = conv₃ₓ₃(h, W) + b, where h is block `block − 1`'s output (the images, for block 0).
   */
  blockPreactivation(params: Params, hidden: tf.Tensor, block: number): tf.Tensor4D;
  /**
   * Block `block`'s output maxPool₂ₓ₂(relu(bn(z))) with batch norm by the given moments (none for
   * batchNorm "none"); relu(bn(z)) with downsample "strided", averaged over its pixels ([K, 1, 1,
   * filters]) for the last block. Chaining blockPreactivation and blockOutput over the blocks and
   * flattening gives forward(params, x, statistics) exactly (same ops, same order).
   */
  blockOutput(params: Params, z: tf.Tensor, block: number, moments?: { mean: tf.Tensor; variance: tf.Tensor }): tf.Tensor4D;
  /** The meta-batch at once (see convNet); refused for batchNorm "support" and downsample "strided". */
  forwardBatched(params: Params, x: tf.Tensor): tf.Tensor;
  /** "per-task": `execution: "auto"` runs the conv net task by task (see convNet). */
  readonly preferredExecution: "per-task";
}

interface Block {
  readonly weightKey: string;
  readonly biasKey: string;
  readonly scaleKey: string;
  readonly offsetKey: string;
  readonly inChannels: number;
}

/**
 * The 4-block CNN of MAML and Reptile for few-shot image classification (Vinyals et al. 2016;
 * Finn et al. 2017), with explicit parameters. Each block is
 *
 *   h ← maxPool₂ₓ₂( relu( bn( conv₃ₓ₃(h, W) + b ) ) ),   bn(z) = γ · (z − μ) / √(σ² + ε) + β,
 *
 * with 'same' convolution padding and 'valid' 2×2/stride-2 pooling (28 → 14 → 7 → 3 → 1), then a
 * linear head: logits = flatten(h) · W_head + b_head. μ and σ² are per-channel moments over the
 * examples and pixels of the batch given to `forward` (see ConvNetBatchNorm: per task, never
 * running averages), or of the support set with batchNorm "support" (`batchNormStatistics`, passed
 * to `forward`). x is float32 [K, height, width, channels]; the result is [K, ways]. With ways 0
 * there is no head: the result is the embedding flatten(h), [K, featureSize].
 *
 * Parameters, in flattening order: "block0/conv/weight" [3, 3, cin, filters], "block0/conv/bias"
 * [filters], "block0/bn/scale" [filters], "block0/bn/offset" [filters], "block1/…", …,
 * "head/weight" [featureSize, ways], "head/bias" [ways]. `head` names the last two (the linear
 * classifier, what ANIL adapts).
 *
 * `init` uses only `rng`: convolution and head weights are Glorot (Xavier) uniform,
 * U(±√(6 / (fan_in + fan_out))) with fan = 3·3·channels for convolutions, as MAML's reference code
 * initialises its convolutions (`xavier_initializer_conv2d`); MAML draws its head from N(0, 1),
 * we use Glorot for it too so the initial logits are O(1) (headInit "normal" draws MAML's). Biases and
 * offsets start at 0, scales at 1.
 *
 * MAML's Omniglot network differs in three ways, each an option: `downsample: "strided"` (stride-2
 * convolutions, no pools, the last 2×2 map averaged), `batchNormScale: false` (β only) and
 * `headInit: "normal"`. Its β is also meta-learned but not adapted: leave the "bn/offset" names out
 * of the algorithm's `adapt` list. A strided convolution is the stride-1 'same' convolution sampled
 * at every other pixel, at the offsets TensorFlow's 'SAME' padding gives (the centre pixels 1, 3, …
 * of an even map, 0, 2, … of an odd one): exact, and differentiable at every order through slice
 * and pad, where Concord's conv2d gradient is stride-1 only.
 *
 * `forwardBatched` runs a meta-batch at once: every parameter with a leading task axis [T, ...]
 * (e.g. "block0/conv/weight" [T, 3, 3, cin, filters]) and x [T, K, height, width, channels] → [T, K, ways],
 * equal to stacking `forward` task by task (each task normalised with its own moments). Per-task
 * filters cannot share one conv2d call, so each convolution is im2col and one batched matMul (see
 * conv-net-batched.ts). `preferredExecution` is "per-task", so `execution: "auto"` keeps running the
 * CNN task by task: the batched path is exact and runs 6–22× fewer kernels, but measured on the
 * Omniglot CNN it was not faster, and its tape holds every task's activations and 9×-input patches
 * at once (memory grows with T·K; see docs/PERFORMANCE.md). Ask for `execution: "batched"` explicitly.
 *
 * Built from plain ops (conv2d, moments, relu, maxPool, matMul, add, mul, reshape), except that
 * batch norm + ReLU run as Concord's fused kernel (BATCH_NORM_KERNEL, one kernel each way, exact
 * gradients at every order) when @concord/backend registered it for the active backend; otherwise
 * the ops of `batchNormalize` + tf.relu (the reference; tf.batchNorm has no second-order gradient).
 * forwardBatched runs the same kernel once per block for all tasks (attribute groups = T).
 */
export function convNet(options: ConvNetOptions): ConvNetModel {
  expect(options !== null && typeof options === "object", "options", "expected { ways, inputShape?, filters?, blocks?, batchNorm? }");
  const {
    ways,
    filters = 64,
    blocks = 4,
    batchNorm = "transductive",
    batchNormEpsilon = 1e-3,
    batchNormScale = true,
    downsample = "max-pool",
    headInit = "glorot",
    name = "conv-net",
  } = options;
  expect(ways === 0 || (Number.isInteger(ways) && ways >= 2), "ways", `expected 0 (an embedding network) or an integer >= 2, got ${JSON.stringify(ways)}`);
  expectInteger(filters, "filters", 1);
  expectInteger(blocks, "blocks", 1);
  expect(
    batchNorm === "transductive" || batchNorm === "support" || batchNorm === "none",
    "batchNorm",
    `expected "transductive", "support" or "none", got ${JSON.stringify(batchNorm)}`,
  );
  expectNumber(batchNormEpsilon, "batchNormEpsilon", Number.MIN_VALUE);
  expect(typeof batchNormScale === "boolean", "batchNormScale", `expected true or false, got ${JSON.stringify(batchNormScale)}`);
  expect(downsample === "max-pool" || downsample === "strided", "downsample", `expected "max-pool" or "strided", got ${JSON.stringify(downsample)}`);
  expect(headInit === "glorot" || headInit === "normal", "headInit", `expected "glorot" or "normal", got ${JSON.stringify(headInit)}`);
  const strided = downsample === "strided";
  expect(typeof name === "string" && name.length > 0, "name", `expected a non-empty string, got ${JSON.stringify(name)}`);
  const inputShape = validateInputShape(options.inputShape ?? [28, 28, 1]);

  let [height, width] = inputShape;
  for (let b = 0; b < blocks && !strided; b++) {
    height = Math.floor(height / 2);
    width = Math.floor(width / 2);
    if (height < 1 || width < 1) {
      throw new ConcordError(
        `expected an input large enough for ${blocks} 2×2 max-pools (at least ${2 ** blocks}×${2 ** blocks}), got ${inputShape[0]}×${inputShape[1]}`,
        { field: "inputShape" },
      );
    }
  }
  const featureSize = strided ? filters : height * width * filters;

  const blockList: Block[] = Array.from({ length: blocks }, (_, b) => ({
    weightKey: `block${b}/conv/weight`,
    biasKey: `block${b}/conv/bias`,
    scaleKey: `block${b}/bn/scale`,
    offsetKey: `block${b}/bn/offset`,
    inChannels: b === 0 ? inputShape[2] : filters,
  }));
  const useBatchNorm = batchNorm !== "none";
  const hasHead = ways > 0;
  const expectedShapes = new Map<string, number[]>();
  for (const block of blockList) {
    expectedShapes.set(block.weightKey, [3, 3, block.inChannels, filters]);
    expectedShapes.set(block.biasKey, [filters]);
    if (useBatchNorm && batchNormScale) expectedShapes.set(block.scaleKey, [filters]);
    if (useBatchNorm) expectedShapes.set(block.offsetKey, [filters]);
  }
  if (hasHead) {
    expectedShapes.set("head/weight", [featureSize, ways]);
    expectedShapes.set("head/bias", [ways]);
  }
  const parameterNames = [...expectedShapes.keys()];

  /** Checks keys and shapes; `tasks` is the leading task-axis length for the batched path. */
  function checkParams(params: Params, tasks?: number): void {
    expect(params !== null && typeof params === "object", "params", "expected a map of named tensors");
    const keys = Object.keys(params);
    const missing = parameterNames.filter((key) => !(key in params));
    const unexpected = keys.filter((key) => !expectedShapes.has(key));
    if (missing.length > 0 || unexpected.length > 0) {
      throw new ConcordError(
        `expected keys [${parameterNames.join(", ")}], got [${keys.join(", ")}]` +
          (missing.length > 0 ? `; missing [${missing.join(", ")}]` : "") +
          (unexpected.length > 0 ? `; unexpected [${unexpected.join(", ")}]` : ""),
        { field: "params" },
      );
    }
    const lead = tasks === undefined ? [] : [tasks];
    for (const [key, shape] of expectedShapes) checkShape(params[key], `params.${key}`, [...lead, ...shape]);
  }

  /** One [filters] mean and variance per block (what batchNormStatistics returns). */
  function checkStatistics(statistics: BatchNormStatistics): void {
    expect(useBatchNorm, "statistics", 'expected none: batchNorm "none" has no normalisation layer');
    const ok = (list: unknown) => Array.isArray(list) && list.length === blocks;
    expect(
      statistics !== null && typeof statistics === "object" && ok(statistics.mean) && ok(statistics.variance),
      "statistics",
      `expected { mean, variance } with one tensor per block (${blocks}), from batchNormStatistics`,
    );
    for (let b = 0; b < blocks; b++) {
      checkShape(statistics.mean[b], `statistics.mean[${b}]`, [filters]);
      checkShape(statistics.variance[b], `statistics.variance[${b}]`, [filters]);
    }
  }

  /** conv₃ₓ₃(h, W) + b of block b (stride 2 with downsample "strided"): the pre-activations batch norm sees. */
  function preactivation(params: Params, hidden: tf.Tensor4D, b: number): tf.Tensor4D {
    const block = blockList[b]!;
    const z = tf.add(tf.conv2d(hidden, params[block.weightKey] as tf.Tensor4D, 1, "same"), params[block.biasKey]!) as tf.Tensor4D;
    return strided ? everyOtherPixel(z) : z;
  }

  /** γ of block b: its parameter, or ones when batch norm has no scale. */
  function scaleOf(params: Params, b: number): tf.Tensor {
    const block = blockList[b]!;
    return batchNormScale ? params[block.scaleKey]! : tf.onesLike(params[block.offsetKey]!);
  }

  /** What follows the activation: the 2×2 max-pool, or for "strided" nothing but the last block's mean over its pixels. */
  function downsampled(activated: tf.Tensor4D, b: number): tf.Tensor4D {
    if (!strided) return tf.maxPool(activated, 2, 2, "valid");
    return b === blocks - 1 ? tf.mean(activated, [1, 2], true) : activated;
  }

  /** The block's output from relu(bn(z)) with the given moments (relu(z) alone without batch norm). */
  function outputWith(params: Params, z: tf.Tensor4D, b: number, mean?: tf.Tensor, variance?: tf.Tensor): tf.Tensor4D {
    const block = blockList[b]!;
    const activated =
      useBatchNorm && mean && variance ? tf.relu(normalizeWith(z, mean, variance, scaleOf(params, b), params[block.offsetKey]!, batchNormEpsilon)) : tf.relu(z);
    return downsampled(activated, b);
  }

  return {
    name,
    head: hasHead ? ["head/weight", "head/bias"] : [],
    ways,
    inputShape,
    filters,
    blocks,
    batchNorm,
    batchNormScale,
    downsample,
    featureSize,
    parameterNames,
    parameterShapes: Object.fromEntries(expectedShapes),
    preferredExecution: "per-task",

    init(rng: Rng): Params {
      expect(rng !== null && typeof rng === "object" && typeof rng.uniform === "function", "rng", "expected a Concord Rng (createRng)");
      const params: Record<string, tf.Tensor> = {};
      for (const block of blockList) {
        const fanIn = 9 * block.inChannels;
        const fanOut = 9 * filters;
        params[block.weightKey] = tf.tensor4d(glorotUniform(rng, fanIn, fanOut, fanIn * filters), [3, 3, block.inChannels, filters], "float32");
        params[block.biasKey] = tf.zeros([filters], "float32");
        if (useBatchNorm && batchNormScale) params[block.scaleKey] = tf.ones([filters], "float32");
        if (useBatchNorm) params[block.offsetKey] = tf.zeros([filters], "float32");
      }
      if (hasHead) {
        const headWeights = headInit === "normal" ? rng.normalArray(featureSize * ways) : glorotUniform(rng, featureSize, ways, featureSize * ways);
        params["head/weight"] = tf.tensor2d(headWeights, [featureSize, ways], "float32");
        params["head/bias"] = tf.zeros([ways], "float32");
      }
      return params;
    },

    forward(params: Params, x: tf.Tensor, statistics?: BatchNormStatistics): tf.Tensor {
      checkInput(x, inputShape);
      checkParams(params);
      if (statistics !== undefined) checkStatistics(statistics);
      else
        expect(
          batchNorm !== "support",
          "statistics",
          'expected the support set\'s statistics (batchNormStatistics(params, support)): batchNorm "support" never normalises by the batch it is given',
        );
      return tf.tidy(() => {
        let hidden = x as tf.Tensor4D;
        blockList.forEach((block, b) => {
          const z = preactivation(params, hidden, b);
          if (!useBatchNorm || statistics) {
            hidden = outputWith(params, z, b, statistics?.mean[b], statistics?.variance[b]);
            return;
          }
          const scale = scaleOf(params, b);
          const activated =
            fusedBatchNormRelu(z, scale, params[block.offsetKey]!, batchNormEpsilon) ??
            tf.relu(batchNormalize(z, scale, params[block.offsetKey]!, batchNormEpsilon));
          hidden = downsampled(activated, b);
        });
        const features = tf.reshape(hidden, [x.shape[0]!, featureSize]);
        return hasHead ? tf.add(tf.matMul(features, params["head/weight"]!), params["head/bias"]!) : features;
      });
    },

    batchNormStatistics(params: Params, support: tf.Tensor): BatchNormStatistics {
      checkInput(support, inputShape, false, "support");
      checkParams(params);
      if (!useBatchNorm) return { mean: [], variance: [] };
      // Returned from the tidy (not tf.keep): the moments belong to the caller's scope, so an
      // enclosing tidy or tf.grads frees them like any other result.
      const moments = tf.tidy(() => {
        const out: tf.Tensor[] = [];
        let hidden = support as tf.Tensor4D;
        blockList.forEach((_, b) => {
          const z = preactivation(params, hidden, b);
          const { mean, variance } = tf.moments(z, [0, 1, 2]);
          out.push(mean, variance);
          // The last block's normalised output is not needed: only its moments are.
          if (b === blockList.length - 1) return;
          hidden = outputWith(params, z, b, mean, variance);
        });
        return out;
      });
      const mean = moments.filter((_, i) => i % 2 === 0);
      const variance = moments.filter((_, i) => i % 2 === 1);
      return { mean, variance };
    },

    blockMoments(params: Params, x: tf.Tensor, block: number, earlier: BatchNormStatistics): { mean: tf.Tensor; variance: tf.Tensor } {
      checkInput(x, inputShape);
      checkParams(params);
      expect(useBatchNorm, "block", 'expected a model with batch norm, got batchNorm "none"');
      expectInteger(block, "block", 0, blocks - 1);
      const ok = (list: unknown) => Array.isArray(list) && list.length >= block;
      expect(
        earlier !== null && typeof earlier === "object" && ok(earlier.mean) && ok(earlier.variance),
        "earlier",
        `expected the moments of the first ${block} blocks`,
      );
      return tf.tidy(() => {
        let hidden = x as tf.Tensor4D;
        for (let b = 0; b < block; b++) hidden = outputWith(params, preactivation(params, hidden, b), b, earlier.mean[b], earlier.variance[b]);
        return tf.moments(preactivation(params, hidden, block), [0, 1, 2]);
      });
    },

    blockPreactivation(params: Params, hidden: tf.Tensor, block: number): tf.Tensor4D {
      expectInteger(block, "block", 0, blocks - 1);
      checkParams(params);
      const channels = blockList[block]!.inChannels;
      expect(
        hidden instanceof tf.Tensor && hidden.rank === 4 && hidden.shape[0]! >= 1 && hidden.shape[3] === channels && hidden.dtype === "float32",
        "hidden",
        `expected block ${block}'s input, a float32 [K, height, width, ${channels}] tensor, got ${describeValue(hidden)}`,
      );
      return tf.tidy(() => preactivation(params, hidden as tf.Tensor4D, block));
    },

    blockOutput(params: Params, z: tf.Tensor, block: number, moments?: { mean: tf.Tensor; variance: tf.Tensor }): tf.Tensor4D {
      expectInteger(block, "block", 0, blocks - 1);
      checkParams(params);
      expect(
        z instanceof tf.Tensor && z.rank === 4 && z.shape[3] === filters && z.dtype === "float32",
        "z",
        `expected block ${block}'s pre-activations, a float32 [K, height, width, ${filters}] tensor, got ${describeValue(z)}`,
      );
      if (useBatchNorm) {
        expect(moments !== undefined, "moments", "expected the block's batch-norm { mean, variance }");
        checkShape(moments.mean, "moments.mean", [filters]);
        checkShape(moments.variance, "moments.variance", [filters]);
      } else expect(moments === undefined, "moments", 'expected none: batchNorm "none" has no normalisation layer');
      return tf.tidy(() => outputWith(params, z as tf.Tensor4D, block, moments?.mean, moments?.variance));
    },

    forwardBatched(params: Params, x: tf.Tensor): tf.Tensor {
      checkInput(x, inputShape, true);
      expect(
        batchNorm !== "support",
        "execution",
        'batchNorm "support" runs task by task (forward with each task\'s batchNormStatistics); forwardBatched normalises by the batch',
      );
      expect(!strided, "execution", 'downsample "strided" runs task by task: the batched convolution is stride-1 only (use execution "per-task" or "auto")');
      const [tasks, examples] = x.shape as [number, number];
      checkParams(params, tasks);
      return tf.tidy(() => {
        // Images of all tasks in one [T·K, h, w, c] batch for padding and pooling (no parameters);
        // [T, K·h·w, c] wherever each task's own parameters or moments apply.
        let hidden = tf.reshape(x, [tasks * examples, ...inputShape]) as tf.Tensor4D;
        for (const [b, block] of blockList.entries()) {
          const [rows, height, width] = hidden.shape;
          const z = convolve3x3Batched(hidden, params[block.weightKey]!, params[block.biasKey]!, tasks);
          const activated: tf.Tensor4D = useBatchNorm
            ? batchNormReluBatched(z, scaleOf(params, b), params[block.offsetKey]!, batchNormEpsilon, [rows, height, width])
            : tf.reshape(tf.relu(z), [rows, height, width, filters]);
          hidden = tf.maxPool(activated, 2, 2, "valid");
        }
        const features = tf.reshape(hidden, [tasks, examples, featureSize]);
        return hasHead ? tf.add(tf.matMul(features, params["head/weight"]!), tf.reshape(params["head/bias"]!, [tasks, 1, ways])) : features;
      });
    },
  };
}

/**
 * A stride-2 'same' 3×3 convolution's output from the stride-1 'same' one z: TensorFlow pads a
 * stride-2 'same' window (total padding max(2·⌈n/2⌉ + 1 − n, 0), the top half rounded down), so its
 * output i is centred on input pixel 2i + 1 for an even size n and 2i for an odd one. Sampled with
 * pad, reshape and slice, whose gradients are differentiable at every order.
 */
export function everyOtherPixel(z: tf.Tensor4D): tf.Tensor4D {
  const [examples, height, width, channels] = z.shape;
  const rows = keepEveryOther(tf.reshape(z, [examples, height, width * channels]) as tf.Tensor3D);
  const outHeight = rows.shape[1];
  const columns = keepEveryOther(tf.reshape(rows, [examples * outHeight, width, channels]) as tf.Tensor3D);
  return tf.reshape(columns, [examples, outHeight, columns.shape[1], channels]);
}

/**
 * [n, m, r] → [n, ⌈m/2⌉, r]: entries 1, 3, … of the middle axis when m is even, 0, 2, … when odd.
 * Rank-4 reshape and slice (an odd axis padded by one entry so that pairs tile it): the backends'
 * fast paths, where rank-6 slices and pads fall to slow generic ones.
 */
function keepEveryOther(x: tf.Tensor3D): tf.Tensor3D {
  const [n, m, r] = x.shape;
  const half = Math.ceil(m / 2);
  const padded =
    m % 2 === 1
      ? tf.pad(x, [
          [0, 0],
          [0, 1],
          [0, 0],
        ])
      : x;
  const pairs = tf.reshape(padded, [n, half, 2, r]);
  return tf.reshape(tf.slice(pairs, [0, 0, m % 2 === 0 ? 1 : 0, 0], [n, half, 1, r]), [n, half, r]) as tf.Tensor3D;
}

/**
 * γ · (z − μ) / √(σ² + ε) + β with per-channel moments over the batch and both spatial axes.
 * Written with tf.moments and elementwise ops so that every op has a differentiable gradient.
 */
export function batchNormalize(z: tf.Tensor4D, scale: tf.Tensor, offset: tf.Tensor, epsilon: number): tf.Tensor4D {
  const { mean, variance } = tf.moments(z, [0, 1, 2], true);
  const normalised = tf.div(tf.sub(z, mean), tf.sqrt(tf.add(variance, epsilon)));
  return tf.add(tf.mul(normalised, scale), offset);
}

/** γ · (z − mean) / √(variance + ε) + β with given per-channel moments (batch norm with statistics from elsewhere). */
function normalizeWith(z: tf.Tensor4D, mean: tf.Tensor, variance: tf.Tensor, scale: tf.Tensor, offset: tf.Tensor, epsilon: number): tf.Tensor4D {
  const normalised = tf.div(tf.sub(z, mean), tf.sqrt(tf.add(variance, epsilon)));
  return tf.add(tf.mul(normalised, scale), offset);
}

/**
 * relu(batchNormalize(z, scale, offset, epsilon)) as one kernel when BATCH_NORM_KERNEL and its
 * gradient are registered for the active backend (see @concord/core), else undefined.
 */
function fusedBatchNormRelu(z: tf.Tensor4D, scale: tf.Tensor, offset: tf.Tensor, epsilon: number): tf.Tensor4D | undefined {
  if (!fusedBatchNormUsable(z)) return undefined;
  const attrs: BatchNormAttrs = { epsilon, relu: true };
  return tf.engine().runKernel(BATCH_NORM_KERNEL, { x: z, scale, offset }, { ...attrs }) as tf.Tensor4D;
}

function glorotUniform(rng: Rng, fanIn: number, fanOut: number, size: number): Float32Array {
  const limit = Math.sqrt(6 / (fanIn + fanOut));
  const values = new Float32Array(size);
  for (let i = 0; i < size; i++) values[i] = rng.uniform(-limit, limit);
  return values;
}

function validateInputShape(shape: unknown): [number, number, number] {
  expect(Array.isArray(shape) && shape.length === 3, "inputShape", `expected [height, width, channels], got ${JSON.stringify(shape)}`);
  shape.forEach((size, i) => expectInteger(size, `inputShape[${i}]`, 1));
  return [shape[0], shape[1], shape[2]] as [number, number, number];
}

/** x must be float32 [K, ...inputShape] (batched: [T, K, ...inputShape]) with K (and T) ≥ 1. */
function checkInput(x: unknown, inputShape: readonly [number, number, number], batched = false, field = "x"): asserts x is tf.Tensor {
  const lead = batched ? ["T", "K"] : ["K"];
  const expected = `[${[...lead, ...inputShape].join(", ")}]`;
  expect(x instanceof tf.Tensor, field, `expected a float32 tensor of shape ${expected}, got ${describeValue(x)}`);
  const shape: readonly number[] = (x as tf.Tensor).shape;
  const image = shape.slice(lead.length);
  if (shape.length !== lead.length + 3 || image.some((size, i) => size !== inputShape[i]) || shape.slice(0, lead.length).some((size) => size === 0)) {
    throw new ConcordError(`expected shape ${expected} with ${lead.join(", ")} ≥ 1, got [${shape.join(", ")}]`, { field });
  }
  expect(x.dtype === "float32", field, `expected dtype float32, got ${x.dtype}`);
}
