import * as tf from "@tensorflow/tfjs-core";
import { ConcordError, expect, expectInteger } from "@concord/core";
import type { Model, Params, Rng } from "@concord/core";
import { checkShape, describeValue } from "./tensor-checks.js";

/** Nonlinearity applied after every hidden layer (the output layer is always linear). */
export type MlpActivation = "relu" | "tanh" | "sigmoid" | "none";

export interface MlpOptions {
  /** Layer widths from input to output, e.g. [1, 40, 40, 1]: at least two positive integers. */
  readonly sizes: readonly number[];
  /** Hidden-layer nonlinearity. Default "relu". */
  readonly activation?: MlpActivation;
  /** Model name reported in results and checkpoints. Default "mlp". */
  readonly name?: string;
  /**
   * Weight initialisation. "he": weights N(0, 2/fan_in), biases 0 (the PyTorch reference benchmark's).
   * "pytorch": weights and biases U(±1/√fan_in), torch.nn.Linear's default (learn2learn's sine example).
   * Default "he". With He init, the MAML sinusoid inner step α = 0.01 overshoots on an untrained net
   * (the reference script's own untrained MSE goes 7.2 → 55.6 after one step), so the sinusoid presets use "pytorch".
   */
  readonly init?: MlpInit;
}

export type MlpInit = "he" | "pytorch";

/** An MLP model that also knows its layer sizes (useful for checkpoints and plots). */
export interface MlpModel extends Model {
  /** The linear output layer's weight and bias (what ANIL adapts). */
  readonly head: readonly string[];
  readonly sizes: readonly number[];
  readonly activation: MlpActivation;
  readonly initialisation: MlpInit;
  forwardBatched(params: Params, x: tf.Tensor): tf.Tensor;
}

const ACTIVATIONS: Readonly<Record<MlpActivation, (x: tf.Tensor) => tf.Tensor>> = {
  relu: (x) => tf.relu(x),
  tanh: (x) => tf.tanh(x),
  sigmoid: (x) => tf.sigmoid(x),
  none: (x) => x,
};

/** The activation names `mlp()` accepts (its options schema in definitions.ts lists these). */
export const MLP_ACTIVATIONS = Object.keys(ACTIVATIONS) as readonly MlpActivation[];
/** The initialisations `mlp()` accepts. */
export const MLP_INITS: readonly MlpInit[] = ["he", "pytorch"];

/**
 * A fully connected network with explicit parameters:
 *   h₀ = x,  h_{l+1} = act(h_l W_l + b_l) for hidden layers,  output = h_{L−1} W_{L−1} + b_{L−1}.
 *
 * Parameters, in flattening order: "layer0/weight" [in, out], "layer0/bias" [out], "layer1/weight", …
 * `head` names the output layer's weight and bias (what ANIL adapts).
 * `init` draws from `rng` only (see MlpOptions.init), weight then bias of each layer.
 * `forward` maps x [K, in] → [K, out]; `forwardBatched` maps x [T, K, in] → [T, K, out] with every
 * parameter carrying a leading task axis (weights [T, in, out], biases [T, out]) and equals
 * stacking `forward` task by task. Built from plain matMul / add / activation ops (no fused kernels)
 * so that Concord's gradient set covers them at every order.
 */
export function mlp(options: MlpOptions): MlpModel {
  const sizes = validateSizes(options?.sizes);
  const activationName = options.activation ?? "relu";
  expect(
    typeof activationName === "string" && Object.hasOwn(ACTIVATIONS, activationName),
    "activation",
    `expected one of ${MLP_ACTIVATIONS.map((a) => `"${a}"`).join(", ")}, got ${JSON.stringify(activationName)}`,
  );
  const initialisation = options.init ?? "he";
  expect(MLP_INITS.includes(initialisation), "init", `expected "he" or "pytorch", got ${JSON.stringify(initialisation)}`);
  const name = options.name ?? "mlp";
  expect(typeof name === "string" && name.length > 0, "name", `expected a non-empty string, got ${JSON.stringify(name)}`);

  const activate = ACTIVATIONS[activationName];
  const layerCount = sizes.length - 1;
  const inputSize = sizes[0]!;
  const layers = Array.from({ length: layerCount }, (_, layer) => ({
    weightKey: `layer${layer}/weight`,
    biasKey: `layer${layer}/bias`,
    fanIn: sizes[layer]!,
    fanOut: sizes[layer + 1]!,
  }));
  const expectedKeys = layers.flatMap((layer) => [layer.weightKey, layer.biasKey]);

  /** Checks keys and shapes; `tasks` is the leading task-axis length for the batched path. */
  function checkParams(params: Params, tasks?: number): void {
    expect(params !== null && typeof params === "object", "params", "expected a map of named tensors");
    const keys = Object.keys(params);
    const missing = expectedKeys.filter((key) => !(key in params));
    const unexpected = keys.filter((key) => !expectedKeys.includes(key));
    if (missing.length > 0 || unexpected.length > 0) {
      throw new ConcordError(
        `expected keys [${expectedKeys.join(", ")}], got [${keys.join(", ")}]` +
          (missing.length > 0 ? `; missing [${missing.join(", ")}]` : "") +
          (unexpected.length > 0 ? `; unexpected [${unexpected.join(", ")}]` : ""),
        { field: "params" },
      );
    }
    const lead = tasks === undefined ? [] : [tasks];
    for (const layer of layers) {
      checkShape(params[layer.weightKey], `params.${layer.weightKey}`, [...lead, layer.fanIn, layer.fanOut]);
      checkShape(params[layer.biasKey], `params.${layer.biasKey}`, [...lead, layer.fanOut]);
    }
  }

  return {
    name,
    head: [layers[layerCount - 1]!.weightKey, layers[layerCount - 1]!.biasKey],
    sizes,
    activation: activationName,
    initialisation,
    parameterShapes: Object.fromEntries(
      layers.flatMap((layer) => [
        [layer.weightKey, [layer.fanIn, layer.fanOut]],
        [layer.biasKey, [layer.fanOut]],
      ]),
    ),

    init(rng: Rng): Params {
      expect(rng !== null && typeof rng === "object" && typeof rng.normalArray === "function", "rng", "expected a Concord Rng (createRng)");
      const params: Record<string, tf.Tensor> = {};
      for (const layer of layers) {
        const weightCount = layer.fanIn * layer.fanOut;
        if (initialisation === "he") {
          params[layer.weightKey] = tf.tensor2d(rng.normalArray(weightCount, Math.sqrt(2 / layer.fanIn)), [layer.fanIn, layer.fanOut], "float32");
          params[layer.biasKey] = tf.zeros([layer.fanOut], "float32");
        } else {
          const bound = 1 / Math.sqrt(layer.fanIn);
          const draw = (size: number) => Float32Array.from({ length: size }, () => rng.uniform(-bound, bound));
          params[layer.weightKey] = tf.tensor2d(draw(weightCount), [layer.fanIn, layer.fanOut], "float32");
          params[layer.biasKey] = tf.tensor1d(draw(layer.fanOut), "float32");
        }
      }
      return params;
    },

    forward(params: Params, x: tf.Tensor): tf.Tensor {
      checkInput(x, "x", ["K", inputSize]);
      checkParams(params);
      return tf.tidy(() => {
        let hidden = x;
        layers.forEach((layer, index) => {
          hidden = tf.add(tf.matMul(hidden, params[layer.weightKey]!), params[layer.biasKey]!);
          if (index < layerCount - 1) hidden = activate(hidden);
        });
        return hidden;
      });
    },

    forwardBatched(params: Params, x: tf.Tensor): tf.Tensor {
      checkInput(x, "x", ["T", "K", inputSize]);
      const tasks = x.shape[0]!;
      checkParams(params, tasks);
      return tf.tidy(() => {
        let hidden = x;
        layers.forEach((layer, index) => {
          // Bias [T, out] → [T, 1, out] so it broadcasts over the K examples of its own task.
          const bias = tf.reshape(params[layer.biasKey]!, [tasks, 1, layer.fanOut]);
          hidden = tf.add(tf.matMul(hidden, params[layer.weightKey]!), bias);
          if (index < layerCount - 1) hidden = activate(hidden);
        });
        return hidden;
      });
    },
  };
}

function validateSizes(sizes: unknown): number[] {
  expect(Array.isArray(sizes) && sizes.length >= 2, "sizes", `expected an array of at least 2 layer widths, got ${JSON.stringify(sizes)}`);
  sizes.forEach((size, index) => expectInteger(size, `sizes[${index}]`, 1));
  return [...(sizes as number[])];
}

/** x must be a float32 tensor of the given rank whose last dimension is the input width. */
function checkInput(x: unknown, field: string, expected: readonly (string | number)[]): asserts x is tf.Tensor {
  expect(x instanceof tf.Tensor, field, `expected a tensor of shape [${expected.join(", ")}], got ${describeValue(x)}`);
  const shape = x.shape;
  const inputSize = expected[expected.length - 1];
  if (shape.length !== expected.length || shape[shape.length - 1] !== inputSize) {
    throw new ConcordError(`expected shape [${expected.join(", ")}], got [${shape.join(", ")}]`, { field });
  }
  expect(x.dtype === "float32", field, `expected dtype float32, got ${x.dtype}`);
}
