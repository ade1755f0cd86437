// convNet with Concord's fused batch-norm + ReLU kernel (what runs after installConcord()) against
// the same model without it (installConcord({ skipKernels: ["batch-norm"] }): tf.moments +
// elementwise ops + tf.relu): the same logits, and the same first-order and second-order
// MAML meta-gradients, up to float32 rounding.
import * as tf from "@tensorflow/tfjs-core";
import { installConcord, uninstallConcord } from "@concord/backend";
import { BATCH_NORM_KERNEL, createRng, type Params, stopGradient } from "@concord/core";
import { describeEachBackend, relativeError, tensorGrowth } from "@concord/core/testing";
import { afterAll, expect, it } from "vitest";
import { convNet } from "./conv-net.js";

const model = convNet({ ways: 3, inputShape: [8, 8, 2], filters: 5, blocks: 2 });
const names = model.parameterNames;

function randomTensor(shape: number[], seed: number, scale = 1): tf.Tensor {
  const rng = createRng(seed);
  return tf.tensor(
    rng.normalArray(
      shape.reduce((a, b) => a * b, 1),
      scale,
    ),
    shape,
  );
}

/** Parameters with every entry random (scales and offsets too), so every path is exercised. */
function randomParams(): Params {
  const params = model.init(createRng(3));
  const out: Record<string, tf.Tensor> = {};
  names.forEach((name, i) => {
    out[name] = tf.tidy(() => tf.add(params[name]!, randomTensor(params[name]!.shape, 100 + i, 0.3)));
  });
  tf.dispose(Object.values(params));
  return out;
}

/** Σ (logits − targets)²: a smooth loss, so finite second derivatives everywhere but at ReLU kinks. */
function loss(params: Params, x: tf.Tensor, targets: tf.Tensor): tf.Scalar {
  return tf.sum(tf.square(tf.sub(model.forward(params, x), targets)));
}

interface Results {
  logits: Float32Array;
  firstOrder: Float32Array;
  secondOrder: Float32Array;
}

/**
 * Logits of the support set, and MAML's meta-gradient (one inner step of size 0.1 on the support
 * set, loss on the query set) with the inner gradient held constant (first order) or differentiated
 * through (second order).
 */
function run(): Results {
  return tf.tidy(() => {
    const params = randomParams();
    const [support, query] = [randomTensor([6, 8, 8, 2], 7), randomTensor([6, 8, 8, 2], 8)];
    const [supportTargets, queryTargets] = [randomTensor([6, 3], 9), randomTensor([6, 3], 10)];
    const metaLoss =
      (secondOrder: boolean) =>
      (...values: tf.Tensor[]) => {
        const theta = Object.fromEntries(names.map((name, i) => [name, values[i]!]));
        const inner = tf.grads((...v: tf.Tensor[]) => loss(Object.fromEntries(names.map((name, i) => [name, v[i]!])), support, supportTargets))(values);
        const adapted = Object.fromEntries(
          names.map((name, i) => [name, tf.sub(theta[name]!, tf.mul(secondOrder ? inner[i]! : stopGradient(inner[i]!), 0.1))]),
        );
        return loss(adapted, query, queryTargets);
      };
    const flat = (grads: tf.Tensor[]) => tf.concat(grads.map((g) => tf.reshape(g, [-1]))).dataSync() as Float32Array;
    const values = names.map((name) => params[name]!);
    return {
      logits: model.forward(params, support).dataSync() as Float32Array,
      firstOrder: flat(tf.grads(metaLoss(false))(values)),
      secondOrder: flat(tf.grads(metaLoss(true))(values)),
    };
  });
}

describeEachBackend("convNet with the fused batch-norm kernel", (backend) => {
  afterAll(() => {
    uninstallConcord();
    installConcord();
  });

  it("gives the op-by-op model's logits and first- and second-order meta-gradients, and frees its tensors", () => {
    uninstallConcord();
    installConcord();
    expect(tf.getKernel(BATCH_NORM_KERNEL, backend)).toBeDefined();
    const before = tf.memory().numTensors;
    const fused = run();

    uninstallConcord();
    installConcord({ skipKernels: ["batch-norm"] });
    expect(tf.getKernel(BATCH_NORM_KERNEL, backend)).toBeUndefined();
    const reference = run();
    expect(tf.memory().numTensors).toBe(before);

    expect(relativeError(fused.logits, reference.logits)).toBeLessThan(1e-5);
    expect(relativeError(fused.firstOrder, reference.firstOrder)).toBeLessThan(1e-5);
    expect(relativeError(fused.secondOrder, reference.secondOrder)).toBeLessThan(1e-5);
    // Second order differs from first order (the check is not vacuous).
    expect(relativeError(fused.secondOrder, fused.firstOrder)).toBeGreaterThan(1e-2);
  });

  it("runs one kernel per block instead of the op-by-op batch norm and ReLU, and frees every intermediate", async () => {
    uninstallConcord();
    installConcord();
    const params = randomParams();
    const x = randomTensor([4, 8, 8, 2], 11);
    const { kernels } = await tf.profile(() => model.forward(params, x).dispose());
    const counts = (name: string) => kernels.filter((k) => k.name === name).length;
    expect(counts(BATCH_NORM_KERNEL)).toBe(2);
    expect(counts("Relu") + counts("Sqrt") + counts("RealDiv")).toBe(0);
    expect(tensorGrowth(() => model.forward(params, x).dispose(), 3)).toBe(0);
    tf.dispose([x, ...Object.values(params)]);
  });
});
