// Builds matching tf and float64-reference versions of the same MLP, parameters and tasks.
import * as tf from "@tensorflow/tfjs-core";
import { createRng, flattenParams, type Params, type Task } from "@concord/core";
import type { ReferenceNet, ReferenceTask } from "./reference-mlp.js";
import { parameterCount } from "./reference-mlp.js";

export function randomTheta(net: ReferenceNet, seed: number): Float64Array {
  const rng = createRng(seed);
  const theta = new Float64Array(parameterCount(net));
  let offset = 0;
  for (let l = 0; l + 1 < net.sizes.length; l++) {
    const nIn = net.sizes[l]!;
    const nOut = net.sizes[l + 1]!;
    for (let i = 0; i < nIn * nOut; i++) theta[offset++] = rng.normal() * Math.sqrt(2 / nIn);
    for (let j = 0; j < nOut; j++) theta[offset++] = 0.1 * rng.normal();
  }
  // Round to float32 so tf and the reference start from the very same point.
  return Float64Array.from(Float32Array.from(theta));
}

export function randomTasks(net: ReferenceNet, count: number, examples: number, seed: number): ReferenceTask[] {
  const rng = createRng(seed);
  const nIn = net.sizes[0]!;
  const nOut = net.sizes[net.sizes.length - 1]!;
  const set = () => {
    const x = Array.from({ length: examples }, () => Array.from({ length: nIn }, () => Math.fround(rng.uniform(-2, 2))));
    const y = Array.from({ length: examples }, () =>
      net.loss === "mse" ? Array.from({ length: nOut }, () => Math.fround(rng.uniform(-1, 1))) : [rng.int(nOut)],
    );
    return { x, y };
  };
  return Array.from({ length: count }, () => ({ support: set(), query: set() }));
}

/** θ as Concord MLP parameters: "layer<l>/weight" [in, out], "layer<l>/bias" [out]. */
export function toParams(net: ReferenceNet, theta: Float64Array): Params {
  const params: Record<string, tf.Tensor> = {};
  let offset = 0;
  for (let l = 0; l + 1 < net.sizes.length; l++) {
    const nIn = net.sizes[l]!;
    const nOut = net.sizes[l + 1]!;
    params[`layer${l}/weight`] = tf.tensor2d(Float32Array.from(theta.subarray(offset, offset + nIn * nOut)), [nIn, nOut]);
    offset += nIn * nOut;
    params[`layer${l}/bias`] = tf.tensor1d(Float32Array.from(theta.subarray(offset, offset + nOut)));
    offset += nOut;
  }
  return params;
}

export function toTasks(net: ReferenceNet, tasks: ReferenceTask[]): Task[] {
  const batch = (set: { x: number[][]; y: number[][] }) => ({
    x: tf.tensor2d(set.x),
    y:
      net.loss === "mse"
        ? tf.tensor2d(set.y)
        : tf.tensor1d(
            set.y.map((row) => row[0]!),
            "int32",
          ),
  });
  return tasks.map((task) => ({ support: batch(task.support), query: batch(task.query) }));
}

export function flatValues(params: Params): Float64Array {
  const flat = flattenParams(params);
  const values = Float64Array.from(flat.dataSync());
  flat.dispose();
  return values;
}

export function disposeTasks(tasks: Task[]): void {
  for (const task of tasks) tf.dispose([task.support.x, task.support.y, task.query.x, task.query.y]);
}
