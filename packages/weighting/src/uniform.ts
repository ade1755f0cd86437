import * as tf from "@tensorflow/tfjs-core";
import type { WeightingScheme } from "@concord/core";
import { expectUpdates } from "./updates.js";

/** Uniform task weights w_i = 1/N: the classic averaged MAML and Reptile updates. */
export function uniform(): WeightingScheme {
  return {
    name: "uniform",
    weights(input) {
      const tasks = expectUpdates(input, "uniform");
      return { weights: tf.fill([tasks], 1 / tasks, "float32") as tf.Tensor1D };
    },
  };
}
