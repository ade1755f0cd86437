// Gradients of the reductions. Max and Min recompute the extremum from the saved input and route
// the gradient through an equality mask (whose own gradient is zero), split evenly among ties.
import * as tf from "@tensorflow/tfjs-core";
import type { GradConfig, NamedAttrMap } from "@tensorflow/tfjs-core";
import { keptShape, reductionAxes, saved, single, sizeOfAxes } from "./util.js";

/** dy of a reduction, broadcast back over the reduced axes of `x`. */
function spread(dy: tf.Tensor, x: tf.Tensor, axes: number[]): tf.Tensor {
  return tf.broadcastTo(tf.reshape(dy, keptShape(x.shape, axes)), x.shape);
}

function extremumGradient(kernelName: "Max" | "Min"): GradConfig {
  return {
    kernelName,
    inputsToSave: ["x"],
    gradFunc: (dy, s, attrs: NamedAttrMap) => {
      const x = saved(s, 0);
      // Max names its axes `reductionIndices`, Min names them `axis`.
      const axes = reductionAxes(attrs["reductionIndices"] ?? attrs["axis"], x.shape);
      return {
        x: () => {
          const extremum = kernelName === "Max" ? tf.max(x, axes, true) : tf.min(x, axes, true);
          const mask = tf.cast(tf.equal(x, extremum), "float32");
          const share = tf.div(mask, tf.sum(mask, axes, true));
          return tf.mul(share, tf.reshape(single(dy), keptShape(x.shape, axes)));
        },
      };
    },
  };
}

export const reductionGradients: GradConfig[] = [
  {
    kernelName: "Sum",
    inputsToSave: ["x"],
    gradFunc: (dy, s, attrs) => {
      const x = saved(s, 0);
      return { x: () => spread(single(dy), x, reductionAxes(attrs["axis"], x.shape)) };
    },
  },
  {
    kernelName: "Mean",
    inputsToSave: ["x"],
    gradFunc: (dy, s, attrs) => {
      const x = saved(s, 0);
      const axes = reductionAxes(attrs["axis"], x.shape);
      return { x: () => tf.div(spread(single(dy), x, axes), sizeOfAxes(x.shape, axes)) };
    },
  },
  extremumGradient("Max"),
  extremumGradient("Min"),
];
