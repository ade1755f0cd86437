import * as tf from "@tensorflow/tfjs-core";
import { ADAM_UPDATE_KERNEL, type AdamUpdateAttrs, createRng } from "@concord/core";
import { describeEachBackend } from "@concord/core/testing";
import { expect, it } from "vitest";

// The kernel is registered by installConcord() (vitest.setup.ts).
function fusedAdamUpdate(param: tf.Tensor, grad: tf.Tensor, m: tf.Tensor, v: tf.Tensor, attrs: AdamUpdateAttrs): tf.Tensor[] | undefined {
  if (!tf.getKernel(ADAM_UPDATE_KERNEL, tf.getBackend())) return undefined;
  return tf.engine().runKernel(ADAM_UPDATE_KERNEL, { param, grad, m, v }, { ...attrs }) as unknown as tf.Tensor[];
}

/** The op-by-op update @concord/optimizers' adam() runs where the fused kernel is not registered. */
function opByOp(
  p: tf.Tensor,
  g: tf.Tensor,
  m: tf.Tensor,
  v: tf.Tensor,
  beta1: number,
  beta2: number,
  epsilon: number,
  stepSize: number,
  correction2Sqrt: number,
) {
  return tf.tidy(() => {
    const m2 = tf.add(tf.mul(m, beta1), tf.mul(g, 1 - beta1));
    const v2 = tf.add(tf.mul(v, beta2), tf.mul(tf.square(g), 1 - beta2));
    const denominator = tf.add(tf.div(tf.sqrt(v2), correction2Sqrt), epsilon);
    return [tf.sub(p, tf.mul(tf.div(m2, denominator), stepSize)), m2, v2];
  });
}

describeEachBackend("fused Adam kernel", () => {
  it("is bit-identical to the op-by-op update over ten steps", () => {
    const rng = createRng(12);
    const shape = [7, 5];
    const [beta1, beta2, epsilon, lr] = [0.9, 0.999, 1e-8, 1e-3];
    let fused = [tf.tensor(rng.normalArray(35, 1), shape), tf.zeros(shape), tf.zeros(shape)];
    let reference = fused.map((t) => t.clone());
    const before = tf.memory().numTensors;
    for (let t = 1; t <= 10; t++) {
      const grad = tf.tensor(rng.normalArray(35, t), shape);
      const constants = { beta1, beta2, epsilon, stepSize: lr / (1 - beta1 ** t), correction2Sqrt: Math.sqrt(1 - beta2 ** t) };
      const nextFused = fusedAdamUpdate(fused[0]!, grad, fused[1]!, fused[2]!, constants);
      expect(nextFused).toBeDefined();
      const nextReference = opByOp(reference[0]!, grad, reference[1]!, reference[2]!, beta1, beta2, epsilon, constants.stepSize, constants.correction2Sqrt);
      tf.dispose([...fused, ...reference, grad]);
      fused = nextFused!;
      reference = nextReference;
      fused.forEach((tensor, i) => expect(Array.from(tensor.dataSync())).toEqual(Array.from(reference[i]!.dataSync())));
    }
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([...fused, ...reference]);
  });
});
