// Second-order MAML through the cross-entropy kernels end to end: the meta-gradient of a small MLP
// classifier (6 → 8 tanh → 4 logits, one inner SGD step, two tasks) with the kernels against the
// same meta-gradient through the tf-op cross-entropy, against central differences of the
// meta-objective, and a third-order derivative against the tf-op form's (the second-order kernel
// runs only where no tape records it). Run again by @concord/backend-native (wasm, addon installed).
import * as tf from "@tensorflow/tfjs-core";
import { createRng } from "@concord/core";
import { describeEachBackend, relativeError } from "@concord/core/testing";
import { expect, it } from "vitest";
import { SOFTMAX_CROSS_ENTROPY_GRAD_GRAD_KERNEL, SOFTMAX_CROSS_ENTROPY_GRAD_KERNEL, SOFTMAX_CROSS_ENTROPY_KERNEL } from "./contract.js";

const CLASSES = 4;
const SHAPES = [[6, 8], [8], [8, CLASSES], [CLASSES]];
const INNER_RATE = 0.5;

const rng = createRng(91);
const theta0 = SHAPES.map((shape) => Float32Array.from(rng.normalArray(tf.util.sizeFromShape(shape), 0.8)));
const batch = (count: number) => ({
  x: Float32Array.from(rng.normalArray(count * 6, 1)),
  y: Int32Array.from({ length: count }, () => rng.int(CLASSES)),
});
const TASKS = [0, 1].map(() => ({ support: batch(5), query: batch(7) }));

type Loss = (logits: tf.Tensor, labels: tf.Tensor) => tf.Tensor;

const kernelLoss: Loss = (logits, labels) => tf.engine().runKernel(SOFTMAX_CROSS_ENTROPY_KERNEL, { logits, labels }) as tf.Tensor;

/** The tf-op form @concord/models runs without the kernel. */
const opsLoss: Loss = (logits, labels) => {
  const shift = tf.max(logits, 1, true);
  const logSumExp = tf.add(tf.log(tf.sum(tf.exp(tf.sub(logits, shift)), 1)), tf.squeeze(shift, [1]));
  return tf.sub(logSumExp, tf.sum(tf.mul(logits, tf.cast(tf.oneHot(labels, CLASSES), "float32")), 1));
};

function meanLoss(perExample: Loss, theta: tf.Tensor[], set: { x: Float32Array; y: Int32Array }): tf.Scalar {
  const [w1, b1, w2, b2] = theta as [tf.Tensor2D, tf.Tensor, tf.Tensor2D, tf.Tensor];
  const x = tf.tensor2d(set.x, [set.y.length, 6]);
  const logits = tf.add(tf.matMul(tf.tanh(tf.add(tf.matMul(x, w1), b1)) as tf.Tensor2D, w2), b2);
  return tf.mean(perExample(logits, tf.tensor1d(set.y, "int32")));
}

/** Σ over tasks of the query loss after one inner SGD step from θ, the inner step differentiated (second order). */
const metaObjective =
  (perExample: Loss) =>
  (...theta: tf.Tensor[]): tf.Scalar =>
    tf.addN(
      TASKS.map((task) => {
        const grads = tf.grads((...t: tf.Tensor[]) => meanLoss(perExample, t, task.support))(theta);
        return meanLoss(
          perExample,
          theta.map((p, i) => tf.sub(p, tf.mul(grads[i]!, INNER_RATE))),
          task.query,
        );
      }),
    ) as tf.Scalar;

const thetaTensors = (values: Float32Array[]) => values.map((v, i) => tf.tensor(v, SHAPES[i]!));

function metaGradient(perExample: Loss): Float32Array[] {
  return tf.tidy(() =>
    tf
      .grads(metaObjective(perExample))(thetaTensors(theta0))
      .map((g) => g.dataSync() as Float32Array),
  );
}

async function kernelCounts(body: () => unknown): Promise<Map<string, number>> {
  const { kernels } = await tf.profile(() => void tf.tidy(() => void body()));
  const counts = new Map<string, number>();
  for (const k of kernels) counts.set(k.name, (counts.get(k.name) ?? 0) + 1);
  return counts;
}

/** Whether a gradient tape was recording at each call of the second-order kernel while `body` ran. */
async function tapeStatesOfGradGradCalls(body: () => unknown): Promise<boolean[]> {
  const config = tf.getKernel(SOFTMAX_CROSS_ENTROPY_GRAD_GRAD_KERNEL, tf.getBackend())!;
  const states: boolean[] = [];
  const engine = tf.engine() as unknown as { isTapeOn(): boolean };
  tf.unregisterKernel(config.kernelName, config.backendName);
  tf.registerKernel({
    ...config,
    kernelFunc: (args) => {
      states.push(engine.isTapeOn());
      return config.kernelFunc(args);
    },
  });
  try {
    body();
  } finally {
    tf.unregisterKernel(config.kernelName, config.backendName);
    tf.registerKernel(config);
  }
  return states;
}

describeEachBackend("second-order MAML through the cross-entropy kernels (MLP classifier)", () => {
  it("the kernels' meta-gradient matches the tf-op form's and central differences of the meta-objective", async () => {
    const before = tf.memory().numTensors;
    const counts = await kernelCounts(() => metaGradient(kernelLoss));
    // Per task: the support and query losses, the support loss's gradient (taped) and the query
    // loss's (outermost pass), and the support gradient's own gradient: one kernel, untaped.
    expect(counts.get(SOFTMAX_CROSS_ENTROPY_KERNEL)).toBe(4);
    expect(counts.get(SOFTMAX_CROSS_ENTROPY_GRAD_KERNEL)).toBe(4);
    expect(counts.get(SOFTMAX_CROSS_ENTROPY_GRAD_GRAD_KERNEL)).toBe(2);
    const fused = metaGradient(kernelLoss);
    const ops = metaGradient(opsLoss);
    fused.forEach((g, i) => {
      expect(relativeError(g, ops[i]!), `parameter ${i}`).toBeLessThan(2e-6);
      expect(Math.max(...Array.from(g, Math.abs)), `parameter ${i}`).toBeGreaterThan(1e-3);
    });
    // Directional central differences (float32 evaluation), Richardson-extrapolated from h = 2e-2
    // and 1e-2 (the meta-objective curves enough that one step's O(h²) error is ~1%).
    const h = 1e-2;
    for (const seed of [1, 2]) {
      const direction = createRng(seed);
      const v = theta0.map((t) => Float32Array.from(direction.normalArray(t.length, 1)));
      const along = (step: number) =>
        tf.tidy(
          () => metaObjective(kernelLoss)(...thetaTensors(theta0.map((t, i) => Float32Array.from(t, (value, k) => value + step * v[i]![k]!)))).dataSync()[0]!,
        );
      const central = (step: number) => (along(step) - along(-step)) / (2 * step);
      const numeric = (4 * central(h) - central(2 * h)) / 3;
      const analytic = fused.reduce((sum, g, i) => sum + g.reduce((s, gk, k) => s + gk * v[i]![k]!, 0), 0);
      expect(Math.abs(analytic - numeric) / Math.abs(numeric), `direction ${seed}: analytic ${analytic}, numeric ${numeric}`).toBeLessThan(2e-3);
    }
    expect(tf.memory().numTensors).toBe(before);
  });

  it("third order (the second-order kernel's tf-op path under a tape) matches the tf-op form's", async () => {
    const labels = tf.tensor1d([2, 0, 3], "int32");
    const logits = tf.tensor2d(Array.from(rng.normalArray(12, 2)), [3, CLASSES]);
    const [v, w, s] = [0, 1, 2].map((k) => tf.tensor2d(Array.from(createRng(50 + k).normalArray(12, 1)), [3, CLASSES]));
    const third = (perExample: Loss) =>
      tf.tidy(() => {
        const first = (z: tf.Tensor) => tf.grad((x: tf.Tensor) => tf.sum(tf.square(perExample(x, labels))))(z);
        const second = (z: tf.Tensor) => tf.grad((x: tf.Tensor) => tf.sum(tf.mul(first(x), v!)))(z);
        return tf
          .grad((x: tf.Tensor) => tf.sum(tf.mul(second(x), w!)))(logits)
          .dataSync() as Float32Array;
      });
    const viaKernel = third(kernelLoss);
    expect(relativeError(viaKernel, third(opsLoss))).toBeLessThan(2e-5);
    expect(Math.max(...Array.from(viaKernel, Math.abs))).toBeGreaterThan(1e-2);
    // The second-order kernel ran, and only where no tape recorded it: twice in the outermost pass
    // (for the first gradient's kernel, and for the one in the taped second-order tf-op formula).
    expect(await tapeStatesOfGradGradCalls(() => third(kernelLoss))).toEqual([false, false]);
    tf.dispose([labels, logits, v!, w!, s!]);
  });
});
