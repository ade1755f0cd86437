// Second-order MAML through batch norm end to end: the meta-gradient of a small conv net (two conv →
// fused batch norm + ReLU blocks, a global mean and a dense layer, MSE, one inner SGD step) with
// ConcordBatchNormGradGrad against the same meta-gradient through the tf-op path it replaced, and
// against central differences of the meta-objective along random directions. Run again by
// @concord/backend-native with the native kernels (wasm).
import * as tf from "@tensorflow/tfjs-core";
import { createRng } from "@concord/core";
import { describeEachBackend, relativeError } from "@concord/core/testing";
import { expect, it } from "vitest";
import { BATCH_NORM_GRAD_GRAD_KERNEL, BATCH_NORM_KERNEL } from "./contract.js";

const SHAPES: Record<string, number[]> = {
  w1: [3, 3, 1, 4],
  gamma1: [4],
  beta1: [4],
  w2: [3, 3, 4, 4],
  gamma2: [4],
  beta2: [4],
  dense: [4, 3],
};
const NAMES = Object.keys(SHAPES);
const INNER_RATE = 0.3;

const rng = createRng(77);
const theta0 = NAMES.map((name) => {
  const size = SHAPES[name]!.reduce((a, b) => a * b, 1);
  if (name.startsWith("gamma")) return Float32Array.from(rng.normalArray(size, 0.2).map((v) => 1 + v));
  return Float32Array.from(rng.normalArray(size, name.startsWith("beta") ? 0.3 : 0.5));
});
const batch = () => ({ x: Float32Array.from(rng.normalArray(4 * 6 * 6, 1)), y: Float32Array.from(rng.normalArray(4 * 3, 1)) });
const TASKS = [0, 1].map(() => ({ support: batch(), query: batch() }));

function forward(theta: tf.Tensor[], x: tf.Tensor, relu: boolean): tf.Tensor {
  const [w1, gamma1, beta1, w2, gamma2, beta2, dense] = theta as [tf.Tensor4D, tf.Tensor, tf.Tensor, tf.Tensor4D, tf.Tensor, tf.Tensor, tf.Tensor2D];
  const block = (input: tf.Tensor, w: tf.Tensor4D, scale: tf.Tensor, offset: tf.Tensor) =>
    tf.engine().runKernel(BATCH_NORM_KERNEL, { x: tf.conv2d(input as tf.Tensor4D, w, 1, "same"), scale, offset }, { epsilon: 1e-3, relu }) as tf.Tensor;
  const features = tf.mean(block(block(x, w1, gamma1, beta1), w2, gamma2, beta2), [1, 2]);
  return tf.matMul(features as tf.Tensor2D, dense);
}

function loss(theta: tf.Tensor[], set: { x: Float32Array; y: Float32Array }, relu: boolean): tf.Scalar {
  return tf.mean(tf.squaredDifference(forward(theta, tf.tensor(set.x, [4, 6, 6, 1]), relu), tf.tensor(set.y, [4, 3]))) as tf.Scalar;
}

/** Σ over tasks of the query loss after one inner SGD step from θ (second order: the inner step is differentiated). */
const metaObjective =
  (relu: boolean) =>
  (...theta: tf.Tensor[]): tf.Scalar => {
    const losses = TASKS.map((task) => {
      const grads = tf.grads((...t: tf.Tensor[]) => loss(t, task.support, relu))(theta);
      return loss(
        theta.map((p, i) => tf.sub(p, tf.mul(grads[i]!, INNER_RATE))),
        task.query,
        relu,
      );
    });
    return tf.addN(losses) as tf.Scalar;
  };

/** The first-order (FOMAML) meta-gradient: the inner gradients held constant. */
function firstOrderMetaGradient(relu: boolean): Float32Array[] {
  return tf.tidy(() => {
    const theta = thetaTensors(theta0);
    const inner = TASKS.map((task) => tf.grads((...t: tf.Tensor[]) => loss(t, task.support, relu))(theta));
    const objective = (...t: tf.Tensor[]) =>
      tf.addN(
        TASKS.map((task, j) =>
          loss(
            t.map((p, i) => tf.sub(p, tf.mul(inner[j]![i]!, INNER_RATE))),
            task.query,
            relu,
          ),
        ),
      ) as tf.Scalar;
    return tf
      .grads(objective)(theta)
      .map((g) => g.dataSync() as Float32Array);
  });
}

function thetaTensors(values: Float32Array[]): tf.Tensor[] {
  return values.map((v, i) => tf.tensor(v, SHAPES[NAMES[i]!]!));
}

function metaGradient(relu: boolean): Float32Array[] {
  return tf.tidy(() =>
    tf
      .grads(metaObjective(relu))(thetaTensors(theta0))
      .map((g) => g.dataSync() as Float32Array),
  );
}

/** Runs `body` with ConcordBatchNormGradGrad unregistered for the active backend: the tf-op path. */
function withoutKernel<T>(body: () => T): T {
  const backendName = tf.getBackend();
  const config = tf.getKernel(BATCH_NORM_GRAD_GRAD_KERNEL, backendName);
  expect(config).toBeDefined();
  tf.unregisterKernel(BATCH_NORM_GRAD_GRAD_KERNEL, backendName);
  try {
    return body();
  } finally {
    tf.registerKernel(config!);
  }
}

async function kernelCount(name: string, body: () => unknown): Promise<number> {
  const profile = await tf.profile(() => void tf.tidy(() => void body()));
  return profile.kernels.filter((k) => k.name === name).length;
}

describeEachBackend("second-order MAML through batch norm (small conv net)", () => {
  for (const relu of [true, false]) {
    it(`relu ${relu}: the one-kernel meta-gradient matches the tf-op path's${relu ? "" : " and central differences of the meta-objective"}`, async () => {
      const before = tf.memory().numTensors;
      expect(await kernelCount(BATCH_NORM_GRAD_GRAD_KERNEL, () => metaGradient(relu))).toBe(4); // 2 tasks × 2 layers
      const fused = metaGradient(relu);
      const ops = withoutKernel(() => metaGradient(relu));
      expect(await kernelCount(BATCH_NORM_GRAD_GRAD_KERNEL, () => withoutKernel(() => metaGradient(relu)))).toBe(0);
      fused.forEach((g, i) => {
        expect(relativeError(g, ops[i]!), NAMES[i]).toBeLessThan(3e-6);
        // Not vacuous: every parameter has a meta-gradient.
        expect(Math.max(...Array.from(g, Math.abs)), NAMES[i]).toBeGreaterThan(1e-4);
      });
      // Directional central differences (float32 evaluation, h = 1e-2) where the meta-objective is
      // smooth (no ReLU kinks); the first-order meta-gradient (inner gradients held constant) fails them.
      if (!relu) {
        const firstOrder = firstOrderMetaGradient(relu);
        const h = 1e-2;
        for (const seed of [1, 2]) {
          const direction = createRng(seed);
          const v = theta0.map((t) => Float32Array.from(direction.normalArray(t.length, 1)));
          const along = (step: number) =>
            tf.tidy(
              () => metaObjective(relu)(...thetaTensors(theta0.map((t, i) => Float32Array.from(t, (value, k) => value + step * v[i]![k]!)))).dataSync()[0]!,
            );
          const numeric = (along(h) - along(-h)) / (2 * h);
          const directional = (gradient: Float32Array[]) => gradient.reduce((sum, g, i) => sum + g.reduce((s, gk, k) => s + gk * v[i]![k]!, 0), 0);
          const analytic = directional(fused);
          expect(Math.abs(analytic - numeric) / Math.abs(numeric), `direction ${seed}: analytic ${analytic}, numeric ${numeric}`).toBeLessThan(2e-3);
          expect(Math.abs(directional(firstOrder) - numeric) / Math.abs(numeric), `direction ${seed}: first order`).toBeGreaterThan(2e-2);
        }
      }
      expect(tf.memory().numTensors).toBe(before);
    });
  }
});
