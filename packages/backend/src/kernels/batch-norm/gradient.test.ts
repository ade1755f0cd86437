// The fused batch-norm kernels' gradients: finite differences at first and second order (the
// "batch-norm" family of cases), and agreement with the op-by-op batch norm (tf.moments +
// elementwise ops + tf.relu, differentiated by Concord's gradients of those ops) at first and
// second order on larger inputs.
import * as tf from "@tensorflow/tfjs-core";
import { BATCH_NORM_KERNEL, createRng } from "@concord/core";
import { describeEachBackend, relativeError } from "@concord/core/testing";
import { expect, it } from "vitest";
import { describeGradientFamily } from "../../gradients/testing/suite.js";

describeGradientFamily("batch-norm");

const EPSILON = 1e-3;

function fused(x: tf.Tensor, scale: tf.Tensor, offset: tf.Tensor, relu: boolean): tf.Tensor {
  return tf.engine().runKernel(BATCH_NORM_KERNEL, { x, scale, offset }, { epsilon: EPSILON, relu }) as tf.Tensor;
}

function composite(x: tf.Tensor, scale: tf.Tensor, offset: tf.Tensor, relu: boolean): tf.Tensor {
  const { mean, variance } = tf.moments(x, [0, 1, 2], true);
  const y = tf.add(tf.mul(tf.div(tf.sub(x, mean), tf.sqrt(tf.add(variance, EPSILON))), scale), offset);
  return relu ? tf.relu(y) : y;
}

function random(shape: number[], seed: number, scale = 1, shift = 0): tf.Tensor {
  const rng = createRng(seed);
  const size = shape.reduce((a, b) => a * b, 1);
  return tf.tensor(
    Float32Array.from({ length: size }, () => shift + scale * rng.uniform(-1, 1)),
    shape,
  );
}

/**
 * A scalar of the first-order gradient of L = Σ w·bn(x, γ, β)² (through the given batch norm), so
 * that its gradient is a second-order one: Σ v ⊙ ∇L over x, γ, β.
 */
function gradientsUpToSecondOrder(bn: typeof fused, relu: boolean, seed: number): Float32Array[] {
  return tf.tidy(() => {
    const shape = [3, 5, 4, 6];
    const x = random(shape, seed, 2, 0.5);
    const scale = random([6], seed + 1, 1, 0.2);
    const offset = random([6], seed + 2, 0.5);
    const w = random(shape, seed + 3);
    const v = [random(shape, seed + 4), random([6], seed + 5), random([6], seed + 6)];
    const loss = (a: tf.Tensor, b: tf.Tensor, c: tf.Tensor) => tf.sum(tf.mul(w, tf.square(bn(a, b, c, relu)))) as tf.Scalar;
    const first = tf.grads(loss)([x, scale, offset]);
    const directional = (a: tf.Tensor, b: tf.Tensor, c: tf.Tensor) =>
      tf.addN(
        tf
          .grads(loss)([a, b, c])
          .map((g, i) => tf.sum(tf.mul(g, v[i]!))),
      ) as tf.Scalar;
    const second = tf.grads(directional)([x, scale, offset]);
    return [bn(x, scale, offset, relu), ...first, ...second].map((t) => t.dataSync() as Float32Array);
  });
}

describeEachBackend("fused batch norm vs the op-by-op form", () => {
  for (const relu of [true, false]) {
    it(`relu ${relu}: same output, first- and second-order gradients (within float32 rounding)`, () => {
      const before = tf.memory().numTensors;
      const a = gradientsUpToSecondOrder(fused, relu, 40);
      const b = gradientsUpToSecondOrder(composite, relu, 40);
      const names = ["y", "dx", "dγ", "dβ", "d²x", "d²γ", "d²β"];
      a.forEach((values, i) => {
        expect(relativeError(values, b[i]!), names[i]).toBeLessThan(2e-5);
      });
      // Not vacuous: the second-order terms of x and γ are far from zero.
      expect(Math.max(...a[4]!.map(Math.abs))).toBeGreaterThan(1e-2);
      expect(Math.max(...a[5]!.map(Math.abs))).toBeGreaterThan(1e-2);
      expect(tf.memory().numTensors).toBe(before);
    });
  }
});
