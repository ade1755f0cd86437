import * as tf from "@tensorflow/tfjs-core";
import { SUPPORTED_KERNELS } from "@concord/backend";
import type { Model, Params, Rng } from "@concord/core";
import { describeEachBackend } from "@concord/core/testing";
import { beforeAll, describe, expect, it } from "vitest";
import { testModel } from "./conformance.js";
import { type ModelConformanceOptions, modelConformanceChecks } from "./conformance-checks.js";
import { convNet } from "./conv-net.js";
import { mlp } from "./mlp.js";
import { meanSquaredError, softmaxCrossEntropy } from "./objectives.js";

// The built-ins are also held to the kernels whose gradients Concord provides.
describeEachBackend("built-in models", () => {
  const supportedKernels = SUPPORTED_KERNELS;
  testModel(mlp({ sizes: [1, 40, 40, 1], activation: "relu" }), { inputShape: [1], supportedKernels });
  testModel(mlp({ sizes: [3, 16, 16, 2], activation: "tanh", init: "pytorch", name: "mlp-tanh" }), {
    inputShape: [3],
    objective: meanSquaredError(),
    supportedKernels,
  });
  testModel(convNet({ ways: 5, inputShape: [14, 14, 1], filters: 8, blocks: 2 }), {
    inputShape: [14, 14, 1],
    objective: softmaxCrossEntropy(),
    targets: "classes",
    supportedKernels,
  });
});

/** Runs the suite's checks on `model` and returns the titles of those that failed. */
async function failingChecks(model: Model, options: ModelConformanceOptions = { inputShape: [2] }): Promise<string[]> {
  const failed: string[] = [];
  for (const check of modelConformanceChecks(model, options)) {
    try {
      await check.run();
    } catch {
      failed.push(check.title);
    }
  }
  return failed;
}

const base = () => mlp({ sizes: [2, 6, 1], activation: "tanh", init: "pytorch", name: "small" });
const SECOND_ORDER = /^second order: /;

describe("the model suite catches broken models [cpu]", () => {
  beforeAll(async () => {
    // cpu: its dataSync() hands out the backend's own buffer, which the mutating model writes into.
    if (!(await tf.setBackend("cpu"))) throw new Error("the cpu backend failed to initialise");
  });

  it("passes a correct model", async () => {
    expect(await failingChecks(base())).toEqual([]);
  });

  it("catches a forwardBatched that differs from stacking forward", async () => {
    const model = base();
    // Bug: runs every task with task 0's parameters.
    const firstTaskOnly: Model = {
      ...model,
      forwardBatched: (params: Params, x: tf.Tensor) =>
        tf.tidy(() => {
          const first = Object.fromEntries(Object.entries(params).map(([key, value]) => [key, tf.gather(value, 0)]));
          return tf.stack(tf.unstack(x).map((xt) => model.forward(first, xt)));
        }),
    };
    expect(await failingChecks(firstTaskOnly)).toEqual([
      "forwardBatched on params [T, ...] and x [T, K, 2] equals stacking forward per task and leaks nothing",
    ]);
  });

  it("catches an activation whose second-order gradient is silently wrong (a customGrad differentiated twice)", async () => {
    const model = base();
    // tanh with a hand-written gradient: right at first order, but tfjs does not differentiate
    // through a customGrad's gradient function, so second-order MAML would be silently wrong.
    const tanhCustom = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
      const [x, save] = args as [tf.Tensor, tf.GradSaveFunc];
      const value = tf.tanh(x);
      save([value]);
      return { value, gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => tf.mul(dy, tf.sub(1, tf.square(saved[0]!))) };
    });
    const layers = [
      ["layer0/weight", "layer0/bias"],
      ["layer1/weight", "layer1/bias"],
    ] as const;
    const custom: Model = {
      name: "custom-tanh",
      init: (rng) => model.init(rng),
      forward: (params, x) =>
        tf.tidy(() => {
          const hidden = tanhCustom(tf.add(tf.matMul(x, params[layers[0][0]]!), params[layers[0][1]]!));
          return tf.add(tf.matMul(hidden, params[layers[1][0]]!), params[layers[1][1]]!);
        }),
    };
    const failed = await failingChecks(custom);
    expect(failed).toHaveLength(1);
    expect(failed[0]).toMatch(SECOND_ORDER);
  });

  it("catches a forward that writes into its parameters", async () => {
    const model = base();
    const mutating: Model = {
      ...model,
      forward: (params, x) => {
        (params["layer0/bias"]!.dataSync() as Float32Array)[0] = 0.5; // in-place write into the backend's buffer
        return model.forward(params, x);
      },
      forwardBatched: undefined,
    };
    expect(await failingChecks(mutating)).toContain("forward does not dispose or change its params or x, nor the shapes of the params");
  });

  it("catches a leak and a nondeterministic init", async () => {
    const model = base();
    const leaky: Model = {
      ...model,
      forward: (params, x) => {
        tf.keep(tf.sum(x)); // never disposed
        return model.forward(params, x);
      },
    };
    expect(await failingChecks(leaky)).toContain("forward, loss and their gradient leak no tensors (tf.memory().numTensors stays flat)");

    const random: Model = { ...model, init: () => model.init(mathRandomRng()) };
    expect(await failingChecks(random)).toContain("init is deterministic per seed: same keys, shapes and values bit for bit; another seed gives other values");
  });

  it("names a kernel outside the supported list", async () => {
    const supported = ["BatchMatMul", "Add", "Reshape", "SquaredDifference", "Mean"];
    const relu = mlp({ sizes: [2, 6, 1], activation: "relu" });
    expect(await failingChecks(relu, { inputShape: [2], supportedKernels: [...supported, "Relu"] })).toEqual([]);

    const checks = modelConformanceChecks(base(), { inputShape: [2], supportedKernels: supported });
    const kernels = checks.find((check) => check.title.startsWith("runs only supported kernels"))!;
    await expect(async () => kernels.run()).rejects.toThrow(/outside the supported list: Tanh/);
  });
});

/** An Rng whose every draw comes from Math.random (the bug a conformance run must catch). */
function mathRandomRng(): Rng {
  return {
    next: Math.random,
    uniform: (low: number, high: number) => low + (high - low) * Math.random(),
    normal: Math.random,
    int: (n: number) => Math.floor(Math.random() * n),
    normalArray: (size: number, std = 1) => Float32Array.from({ length: size }, () => Math.random() * std),
    shuffle: <T>(items: T[]) => items,
    fork: () => mathRandomRng(),
    getState: () => [0, 0, 0, 1] as const,
    setState: () => undefined,
  };
}
