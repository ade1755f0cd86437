// convNet's forwardBatched with Concord's fused batch-norm + ReLU kernel run once per block with
// groups = T (what runs after installConcord()) against the same model without it
// (installConcord({ skipKernels: ["batch-norm"] }): batchNormalizeBatched's tf ops + tf.relu): the
// same outputs and first- and second-order gradients up to float32 rounding, per task what forward
// gives, one kernel per block, and no tensors left behind.
import * as tf from "@tensorflow/tfjs-core";
import { installConcord, uninstallConcord } from "@concord/backend";
import { BATCH_NORM_KERNEL, createRng, type Params } from "@concord/core";
import { describeEachBackend, relativeError, tensorGrowth } from "@concord/core/testing";
import { afterAll, expect, it } from "vitest";
import { convNet } from "./conv-net.js";

const model = convNet({ ways: 3, inputShape: [8, 8, 2], filters: 5, blocks: 2 });
const names = model.parameterNames;

function randomTensor(shape: number[], seed: number, scale = 1): tf.Tensor {
  const rng = createRng(seed);
  return tf.tensor(rng.normalArray(tf.util.sizeFromShape(shape), scale), shape);
}

/** Per-task parameters with every entry random (scales and offsets too), stacked on a leading task axis. */
function stackedParams(tasks: number): Params {
  return tf.tidy(() => {
    const perTask = Array.from({ length: tasks }, (_, t) => {
      const params = model.init(createRng(3 + t));
      return Object.fromEntries(names.map((name, i) => [name, tf.add(params[name]!, randomTensor(params[name]!.shape, 100 * t + i, 0.3))]));
    });
    return Object.fromEntries(names.map((name) => [name, tf.stack(perTask.map((params) => params[name]!))]));
  });
}

interface Results {
  logits: Float32Array;
  firstOrder: Float32Array;
  secondOrder: Float32Array;
  perTask: Float32Array[];
}

/**
 * The gradients w.r.t. every parameter of Σ r·logits² (first order) and of that gradient's squared
 * norm (second order: through the batch norm's backward kernel; the square makes the head's bias
 * reach it), for forwardBatched's logits.
 */
function gradients(values: tf.Tensor[], x: tf.Tensor, r: tf.Tensor): { firstOrder: tf.Tensor[]; secondOrder: tf.Tensor[] } {
  const loss = (...v: tf.Tensor[]) =>
    tf.sum(tf.mul(tf.square(model.forwardBatched(Object.fromEntries(names.map((name, i) => [name, v[i]!])), x)), r)) as tf.Scalar;
  const gradNorm = (...v: tf.Tensor[]) =>
    tf.addN(
      tf
        .grads(loss)(v)
        .map((g) => tf.sum(tf.square(g))),
    ) as tf.Scalar;
  return { firstOrder: tf.grads(loss)(values), secondOrder: tf.grads(gradNorm)(values) };
}

/** forwardBatched's logits, its first- and second-order gradients (see gradients), and each task's logits by forward. */
function run(tasks: number, examples: number): Results {
  return tf.tidy(() => {
    const params = stackedParams(tasks);
    const x = randomTensor([tasks, examples, 8, 8, 2], 7);
    const r = randomTensor([tasks, examples, 3], 8);
    const flat = (grads: tf.Tensor[]) => tf.concat(grads.map((g) => tf.reshape(g, [-1]))).dataSync() as Float32Array;
    const { firstOrder, secondOrder } = gradients(
      names.map((name) => params[name]!),
      x,
      r,
    );
    return {
      logits: model.forwardBatched(params, x).dataSync() as Float32Array,
      firstOrder: flat(firstOrder),
      secondOrder: flat(secondOrder),
      perTask: Array.from(
        { length: tasks },
        (_, t) => model.forward(Object.fromEntries(names.map((name) => [name, tf.gather(params[name]!, t)])), tf.gather(x, t)).dataSync() as Float32Array,
      ),
    };
  });
}

describeEachBackend("convNet forwardBatched with the grouped fused batch-norm kernel", (backend) => {
  afterAll(() => {
    uninstallConcord();
    installConcord();
  });

  for (const [tasks, examples] of [
    [3, 4],
    [1, 3],
  ] as const) {
    it(`T = ${tasks}, K = ${examples}: the tf-op path's logits and first- and second-order gradients; task t's forward is the batched slice t`, () => {
      uninstallConcord();
      installConcord();
      expect(tf.getKernel(BATCH_NORM_KERNEL, backend)).toBeDefined();
      const before = tf.memory().numTensors;
      const fused = run(tasks, examples);

      uninstallConcord();
      installConcord({ skipKernels: ["batch-norm"] });
      expect(tf.getKernel(BATCH_NORM_KERNEL, backend)).toBeUndefined();
      const reference = run(tasks, examples);
      expect(tf.memory().numTensors).toBe(before);

      expect(relativeError(fused.logits, reference.logits)).toBeLessThan(1e-5);
      expect(relativeError(fused.firstOrder, reference.firstOrder)).toBeLessThan(1e-5);
      expect(relativeError(fused.secondOrder, reference.secondOrder)).toBeLessThan(1e-5);
      expect(fused.secondOrder.some((v) => v !== 0)).toBe(true);
      const slice = examples * 3;
      fused.perTask.forEach((logits, t) => {
        expect(relativeError(fused.logits.subarray(t * slice, (t + 1) * slice), logits), `task ${t}`).toBeLessThan(1e-5);
      });
    });
  }

  it("runs one grouped kernel per block instead of the op-by-op batch norm and ReLU, and frees every intermediate", async () => {
    uninstallConcord();
    installConcord();
    const params = stackedParams(4);
    const x = randomTensor([4, 3, 8, 8, 2], 11);
    const { kernels } = await tf.profile(() => model.forwardBatched(params, x).dispose());
    const counts = (name: string) => kernels.filter((k) => k.name === name).length;
    expect(counts(BATCH_NORM_KERNEL)).toBe(2);
    expect(counts("Relu") + counts("Sqrt") + counts("RealDiv") + counts("Mean")).toBe(0);
    expect(tensorGrowth(() => model.forwardBatched(params, x).dispose(), 3)).toBe(0);
    const values = names.map((name) => params[name]!);
    const r = randomTensor([4, 3, 3], 12);
    const secondOrder = () => tf.dispose(Object.values(gradients(values, x, r)).flat());
    expect(tensorGrowth(secondOrder, 3)).toBe(0);
    tf.dispose([x, r, ...values]);
  });
});
