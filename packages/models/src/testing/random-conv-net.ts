// Random inputs for the conv net's tests: parameters with every entry perturbed (not the init's zeros
// and ones, so every path is exercised) and images with labels for the float64 reference.
import * as tf from "@tensorflow/tfjs-core";
import { createRng, type Model, type Params } from "@concord/core";
import type { ReferenceBatch } from "./reference-conv-net.js";

/** model.init(seed) plus N(0, 0.3²) noise on every entry. */
export function randomParams(model: Model, seed: number): Params {
  const rng = createRng(seed);
  const params = model.init(rng);
  const out: Record<string, tf.Tensor> = {};
  for (const [name, value] of Object.entries(params)) {
    const noise = rng.normalArray(value.size, 0.3);
    out[name] = tf.tidy(() => tf.add(value, tf.tensor(noise, value.shape, "float32")));
  }
  tf.dispose(Object.values(params));
  return out;
}

/** `count` images of `pixels` values in [0, 1) (float32-exact) with labels 0, 1, 2, 0, … */
export function randomBatch(count: number, pixels: number, seed: number): ReferenceBatch {
  const rng = createRng(seed);
  const x = Float64Array.from({ length: count * pixels }, () => Math.fround(rng.uniform(0, 1)));
  return { x, count, labels: Array.from({ length: count }, (_, i) => i % 3) };
}
