import * as tf from "@tensorflow/tfjs-core";
import { BATCH_NORM_KERNEL, type BatchNormAttrs, ConcordError, expect, expectInteger, expectNumber } from "@concord/core";
import type { Model, Params, Rng } from "@concord/core";
import { batchNormalizeBatched, convolve3x3Batched } from "./conv-net-batched.js";
import { checkShape, describeValue } from "./tensor-checks.js";

/**
 * How batch normalisation gets its statistics.
 * - "transductive": the mean and variance of the batch being run (per task: its support set while
 *   adapting, its query set when evaluated), no running averages. This is what MAML's reference code
 *   does at training *and* test time (Finn et al. 2017; Nichol et al. 2018 call it transductive).
 * - "none": no normalisation layer at all (scale/offset parameters are then absent).
 */
export type ConvNetBatchNorm = "transductive" | "none";

export interface ConvNetOptions {
  /** N: classes per task, the number of logits. */
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
  /** Model name reported in results and checkpoints. Default "conv-net". */
  readonly name?: string;
}

/** A convNet model that also knows its architecture. */
export interface ConvNetModel extends Model {
  /** The linear output layer's weight and bias (what ANIL adapts). */
  readonly head: readonly string[];
  readonly ways: number;
  readonly inputShape: readonly [number, number, number];
  readonly filters: number;
  readonly blocks: number;
  readonly batchNorm: ConvNetBatchNorm;
  /** Length of the flattened feature vector that enters the linear head (h·w·filters after the last pool). */
  readonly featureSize: number;
  /** Parameter names in flattening order. */
  readonly parameterNames: readonly string[];
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
 * running averages). x is float32 [K, height, width, channels]; the result is [K, ways].
 *
 * Parameters, in flattening order: "block0/conv/weight" [3, 3, cin, filters], "block0/conv/bias"
 * [filters], "block0/bn/scale" [filters], "block0/bn/offset" [filters], "block1/…", …,
 * "head/weight" [featureSize, ways], "head/bias" [ways]. `head` names the last two (the linear
 * classifier, what ANIL adapts).
 *
 * `init` uses only `rng`: convolution and head weights are Glorot (Xavier) uniform,
 * U(±√(6 / (fan_in + fan_out))) with fan = 3·3·channels for convolutions, as MAML's reference code
 * initialises its convolutions (`xavier_initializer_conv2d`); MAML draws its head from N(0, 1),
 * we use Glorot for it too so the initial logits are O(1). Biases and offsets start at 0, scales at 1.
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
 */
export function convNet(options: ConvNetOptions): ConvNetModel {
  expect(options !== null && typeof options === "object", "options", "expected { ways, inputShape?, filters?, blocks?, batchNorm? }");
  const { ways, filters = 64, blocks = 4, batchNorm = "transductive", batchNormEpsilon = 1e-3, name = "conv-net" } = options;
  expectInteger(ways, "ways", 2);
  expectInteger(filters, "filters", 1);
  expectInteger(blocks, "blocks", 1);
  expect(
    batchNorm === "transductive" || batchNorm === "none",
    "batchNorm",
    `expected "transductive" or "none", got ${JSON.stringify(batchNorm)}`,
  );
  expectNumber(batchNormEpsilon, "batchNormEpsilon", Number.MIN_VALUE);
  expect(typeof name === "string" && name.length > 0, "name", `expected a non-empty string, got ${JSON.stringify(name)}`);
  const inputShape = validateInputShape(options.inputShape ?? [28, 28, 1]);

  let [height, width] = inputShape;
  for (let b = 0; b < blocks; b++) {
    height = Math.floor(height / 2);
    width = Math.floor(width / 2);
    if (height < 1 || width < 1) {
      throw new ConcordError(
        `expected an input large enough for ${blocks} 2×2 max-pools (at least ${2 ** blocks}×${2 ** blocks}), got ${inputShape[0]}×${inputShape[1]}`,
        { field: "inputShape" },
      );
    }
  }
  const featureSize = height * width * filters;

  const blockList: Block[] = Array.from({ length: blocks }, (_, b) => ({
    weightKey: `block${b}/conv/weight`,
    biasKey: `block${b}/conv/bias`,
    scaleKey: `block${b}/bn/scale`,
    offsetKey: `block${b}/bn/offset`,
    inChannels: b === 0 ? inputShape[2] : filters,
  }));
  const useBatchNorm = batchNorm === "transductive";
  const expectedShapes = new Map<string, number[]>();
  for (const block of blockList) {
    expectedShapes.set(block.weightKey, [3, 3, block.inChannels, filters]);
    expectedShapes.set(block.biasKey, [filters]);
    if (useBatchNorm) {
      expectedShapes.set(block.scaleKey, [filters]);
      expectedShapes.set(block.offsetKey, [filters]);
    }
  }
  expectedShapes.set("head/weight", [featureSize, ways]);
  expectedShapes.set("head/bias", [ways]);
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

  return {
    name,
    head: ["head/weight", "head/bias"],
    ways,
    inputShape,
    filters,
    blocks,
    batchNorm,
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
        if (useBatchNorm) {
          params[block.scaleKey] = tf.ones([filters], "float32");
          params[block.offsetKey] = tf.zeros([filters], "float32");
        }
      }
      params["head/weight"] = tf.tensor2d(glorotUniform(rng, featureSize, ways, featureSize * ways), [featureSize, ways], "float32");
      params["head/bias"] = tf.zeros([ways], "float32");
      return params;
    },

    forward(params: Params, x: tf.Tensor): tf.Tensor {
      checkInput(x, inputShape);
      checkParams(params);
      return tf.tidy(() => {
        let hidden = x as tf.Tensor4D;
        for (const block of blockList) {
          const z: tf.Tensor4D = tf.add(tf.conv2d(hidden, params[block.weightKey] as tf.Tensor4D, 1, "same"), params[block.biasKey]!);
          const activated = useBatchNorm
            ? (fusedBatchNormRelu(z, params[block.scaleKey]!, params[block.offsetKey]!, batchNormEpsilon) ??
              tf.relu(batchNormalize(z, params[block.scaleKey]!, params[block.offsetKey]!, batchNormEpsilon)))
            : tf.relu(z);
          hidden = tf.maxPool(activated, 2, 2, "valid");
        }
        const features = tf.reshape(hidden, [x.shape[0]!, featureSize]);
        return tf.add(tf.matMul(features, params["head/weight"]!), params["head/bias"]!);
      });
    },

    forwardBatched(params: Params, x: tf.Tensor): tf.Tensor {
      checkInput(x, inputShape, true);
      const [tasks, examples] = x.shape as [number, number];
      checkParams(params, tasks);
      return tf.tidy(() => {
        // Images of all tasks in one [T·K, h, w, c] batch for padding and pooling (no parameters);
        // [T, K·h·w, c] wherever each task's own parameters or moments apply.
        let hidden = tf.reshape(x, [tasks * examples, ...inputShape]) as tf.Tensor4D;
        for (const block of blockList) {
          const [rows, height, width] = hidden.shape;
          let z = convolve3x3Batched(hidden, params[block.weightKey]!, params[block.biasKey]!, tasks);
          if (useBatchNorm) z = batchNormalizeBatched(z, params[block.scaleKey]!, params[block.offsetKey]!, batchNormEpsilon);
          hidden = tf.maxPool(tf.reshape(tf.relu(z), [rows, height, width, filters]), 2, 2, "valid");
        }
        const features = tf.reshape(hidden, [tasks, examples, featureSize]);
        return tf.add(tf.matMul(features, params["head/weight"]!), tf.reshape(params["head/bias"]!, [tasks, 1, ways]));
      });
    },
  };
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

/**
 * relu(batchNormalize(z, scale, offset, epsilon)) as one kernel when BATCH_NORM_KERNEL and its
 * gradient are registered for the active backend (see @concord/core), else undefined.
 */
function fusedBatchNormRelu(z: tf.Tensor4D, scale: tf.Tensor, offset: tf.Tensor, epsilon: number): tf.Tensor4D | undefined {
  if (z.dtype !== "float32" || !tf.getKernel(BATCH_NORM_KERNEL, tf.getBackend()) || !tf.getGradient(BATCH_NORM_KERNEL)) return undefined;
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
function checkInput(x: unknown, inputShape: readonly [number, number, number], batched = false): asserts x is tf.Tensor {
  const lead = batched ? ["T", "K"] : ["K"];
  const expected = `[${[...lead, ...inputShape].join(", ")}]`;
  expect(x instanceof tf.Tensor, "x", `expected a float32 tensor of shape ${expected}, got ${describeValue(x)}`);
  const shape: readonly number[] = (x as tf.Tensor).shape;
  const image = shape.slice(lead.length);
  if (
    shape.length !== lead.length + 3 ||
    image.some((size, i) => size !== inputShape[i]) ||
    shape.slice(0, lead.length).some((size) => size === 0)
  ) {
    throw new ConcordError(`expected shape ${expected} with ${lead.join(", ")} ≥ 1, got [${shape.join(", ")}]`, { field: "x" });
  }
  expect(x.dtype === "float32", "x", `expected dtype float32, got ${x.dtype}`);
}
