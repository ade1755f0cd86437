// softmaxCrossEntropy() with Concord's cross-entropy kernels (what runs after installConcord())
// against the same objective without them (installConcord({ skipKernels: ["cross-entropy"] })):
// without them it is today's tf-op form bit for bit (checked against a frozen copy of that form
// through a second-order MAML step of an MLP classifier); with them the same losses and meta-gradients
// up to float32 rounding, with one kernel each way.
import * as tf from "@tensorflow/tfjs-core";
import { installConcord, uninstallConcord } from "@concord/backend";
import { createRng, type Objective, type Params, SOFTMAX_CROSS_ENTROPY_GRAD_KERNEL, SOFTMAX_CROSS_ENTROPY_KERNEL, stopGradient } from "@concord/core";
import { describeEachBackend, relativeError, tensorGrowth } from "@concord/core/testing";
import { afterAll, expect, it } from "vitest";
import { mlp } from "./mlp.js";
import { softmaxCrossEntropy } from "./objectives.js";

const WAYS = 4;
const model = mlp({ sizes: [6, 8, WAYS], activation: "tanh" });
const names = ["layer0/weight", "layer0/bias", "layer1/weight", "layer1/bias"];

/** The tf-op cross-entropy as it was before the kernel (frozen here: the reference for "skip restores it"). */
function frozenOpsCrossEntropy(): Objective {
  const perExample = (logits: tf.Tensor, labels: tf.Tensor) => {
    const last = logits.rank - 1;
    const shift = stopGradient(tf.max(logits, last, true));
    const logSumExp = tf.add(tf.log(tf.sum(tf.exp(tf.sub(logits, shift)), last)), tf.squeeze(shift, [last]));
    const ints = labels.dtype === "int32" ? labels : tf.cast(labels, "int32");
    const picked = tf.sum(tf.mul(logits, tf.cast(tf.oneHot(ints, logits.shape[last]!), "float32")), last);
    return tf.sub(logSumExp, picked);
  };
  return {
    name: "frozen",
    loss: (logits, y) => tf.tidy(() => tf.mean(perExample(logits, y)) as tf.Scalar),
    taskLosses: (logits, y) => tf.tidy(() => tf.mean(perExample(logits, y), 1) as tf.Tensor1D),
  };
}

function randomTensor(shape: number[], seed: number, scale = 1): tf.Tensor {
  return tf.tensor(createRng(seed).normalArray(tf.util.sizeFromShape(shape), scale), shape);
}

const labels = (seed: number, count: number) => {
  const rng = createRng(seed);
  return tf.tensor1d(
    Array.from({ length: count }, () => rng.int(WAYS)),
    "int32",
  );
};

interface Results {
  loss: Float32Array;
  taskLosses: Float32Array;
  metaGradient: Float32Array;
}

/**
 * The loss and per-task losses of scaled logits (large enough that the max shift matters), and
 * second-order MAML's meta-gradient: two tasks, one inner SGD step of 0.5 on the support set, the
 * query loss differentiated through it.
 */
function run(objective: Objective): Results {
  return tf.tidy(() => {
    const params = model.init(createRng(5));
    expect(Object.keys(params)).toEqual(names);
    const values = names.map((name) => params[name]!);
    const asParams = (v: tf.Tensor[]): Params => Object.fromEntries(names.map((name, i) => [name, v[i]!]));
    const tasks = [0, 1].map((t) => ({
      support: { x: randomTensor([5, 6], 10 + t), y: labels(20 + t, 5) },
      query: { x: randomTensor([7, 6], 30 + t), y: labels(40 + t, 7) },
    }));
    const metaLoss = (...v: tf.Tensor[]) =>
      tf.addN(
        tasks.map((task) => {
          const inner = tf.grads((...w: tf.Tensor[]) => objective.loss(model.forward(asParams(w), task.support.x), task.support.y))(v);
          const adapted = v.map((p, i) => tf.sub(p, tf.mul(inner[i]!, 0.5)));
          return objective.loss(model.forward(asParams(adapted), task.query.x), task.query.y);
        }),
      ) as tf.Scalar;
    const logits = tf.mul(randomTensor([3, 5, WAYS], 50), 30);
    const taskLabels = tf.tensor2d([0, 3, 1, 2, 2, 1, 1, 0, 3, 3, 2, 0, 1, 1, 3], [3, 5], "int32");
    return {
      loss: objective.loss(tf.reshape(logits, [15, WAYS]), tf.reshape(taskLabels, [15])).dataSync() as Float32Array,
      taskLosses: objective.taskLosses!(logits, taskLabels).dataSync() as Float32Array,
      metaGradient: tf
        .concat(
          tf
            .grads(metaLoss)(values)
            .map((g) => tf.reshape(g, [-1])),
        )
        .dataSync() as Float32Array,
    };
  });
}

const bits = (values: Float32Array) => Array.from(new Uint32Array(Float32Array.from(values).buffer));

async function kernelCounts(body: () => unknown): Promise<Map<string, number>> {
  const { kernels } = await tf.profile(() => void body());
  const counts = new Map<string, number>();
  for (const k of kernels) counts.set(k.name, (counts.get(k.name) ?? 0) + 1);
  return counts;
}

describeEachBackend("softmaxCrossEntropy with the cross-entropy kernels", (backend) => {
  afterAll(() => {
    uninstallConcord();
    installConcord();
  });

  it('without them (skipKernels: ["cross-entropy"]) is the tf-op form bit for bit, through a second-order MAML step', async () => {
    uninstallConcord();
    installConcord({ skipKernels: ["cross-entropy"] });
    expect(tf.getKernel(SOFTMAX_CROSS_ENTROPY_KERNEL, backend)).toBeUndefined();
    const skipped = run(softmaxCrossEntropy());
    const frozen = run(frozenOpsCrossEntropy());
    for (const key of ["loss", "taskLosses", "metaGradient"] as const) expect(bits(skipped[key]), key).toEqual(bits(frozen[key]));
    const counts = await kernelCounts(() => run(softmaxCrossEntropy()));
    expect(counts.get(SOFTMAX_CROSS_ENTROPY_KERNEL)).toBeUndefined();
    expect(counts.get("Exp")).toBeGreaterThan(0);
  });

  it("with them gives the tf-op form's losses and second-order meta-gradient up to float32 rounding, one kernel each way", async () => {
    uninstallConcord();
    installConcord({ skipKernels: ["cross-entropy"] });
    const reference = run(softmaxCrossEntropy());
    uninstallConcord();
    installConcord();
    expect(tf.getKernel(SOFTMAX_CROSS_ENTROPY_KERNEL, backend)).toBeDefined();
    const fused = run(softmaxCrossEntropy());
    expect(relativeError(fused.loss, reference.loss)).toBeLessThan(1e-6);
    expect(relativeError(fused.taskLosses, reference.taskLosses)).toBeLessThan(1e-6);
    expect(relativeError(fused.metaGradient, reference.metaGradient)).toBeLessThan(1e-5);
    // Not vacuous: the meta-gradient is not zero, and the rounding did change (another computation ran).
    expect(Math.max(...Array.from(fused.metaGradient, Math.abs))).toBeGreaterThan(1e-3);
    expect(bits(fused.metaGradient)).not.toEqual(bits(reference.metaGradient));

    const counts = await kernelCounts(() => run(softmaxCrossEntropy()));
    // Forward: 2 tasks × (support + query) + loss + taskLosses; gradients: the inner gradient of
    // each support loss, then the meta-gradient's pass through both query losses.
    expect(counts.get(SOFTMAX_CROSS_ENTROPY_KERNEL)).toBe(6);
    expect(counts.get(SOFTMAX_CROSS_ENTROPY_GRAD_KERNEL)).toBe(4);
    expect(counts.get("ConcordSoftmaxCrossEntropyGradGrad")).toBe(2);
    expect(counts.get("Exp")).toBeUndefined();
    expect(counts.get("OneHot")).toBeUndefined();
  });

  it("takes integer-valued float labels as their int32 values, still checks them, and frees its tensors", () => {
    uninstallConcord();
    installConcord();
    const objective = softmaxCrossEntropy();
    const logits = randomTensor([4, WAYS], 60, 3);
    const ints = tf.tensor1d([3, 0, 2, 1], "int32");
    const floats = tf.tensor1d([3, 0, 2, 1], "float32");
    tf.tidy(() => {
      expect(bits(objective.loss(logits, floats).dataSync() as Float32Array)).toEqual(bits(objective.loss(logits, ints).dataSync() as Float32Array));
    });
    expect(() => objective.loss(logits, tf.tensor1d([0, 1, 4, 2], "int32"))).toThrow(/\[0, 4\)/);
    const growth = tensorGrowth(
      () =>
        tf.tidy(() => {
          const grad = tf.grad((z: tf.Tensor) => objective.loss(z, ints));
          tf.grad((z: tf.Tensor) => tf.sum(tf.square(grad(z))))(logits);
        }),
      5,
    );
    expect(growth).toBe(0);
    tf.dispose([logits, ints, floats]);
  });
});
