import * as tf from "@tensorflow/tfjs-core";
import { ConcordError } from "@concord/core";
import { describeEachBackend, finiteDifference, relativeError, tensorGrowth } from "@concord/core/testing";
import { expect, it } from "vitest";
import { meanSquaredError, softmaxCrossEntropy } from "./objectives.js";

const read = (t: tf.Tensor): number[] => {
  const values = Array.from(t.dataSync());
  t.dispose();
  return values;
};

/** Float64 reference: mean_k [ log Σ_c exp(z_kc) − z_k[y_k] ] for row-major logits [K, C]. */
function crossEntropy64(z: Float64Array, labels: number[], classes: number): number {
  let total = 0;
  labels.forEach((label, k) => {
    const row = Array.from(z.subarray(k * classes, (k + 1) * classes));
    const m = Math.max(...row);
    total += m + Math.log(row.reduce((s, v) => s + Math.exp(v - m), 0)) - row[label]!;
  });
  return total / labels.length;
}

/** Float64 closed-form gradient of crossEntropy64: (softmax(z_k) − onehot(y_k)) / K. */
function crossEntropyGradient64(z: Float64Array, labels: number[], classes: number): Float64Array {
  const grad = new Float64Array(z.length);
  labels.forEach((label, k) => {
    const row = Array.from(z.subarray(k * classes, (k + 1) * classes));
    const m = Math.max(...row);
    const e = row.map((v) => Math.exp(v - m));
    const total = e.reduce((a, b) => a + b, 0);
    e.forEach((v, c) => {
      grad[k * classes + c] = (v / total - (c === label ? 1 : 0)) / labels.length;
    });
  });
  return grad;
}

describeEachBackend("meanSquaredError", () => {
  const mse = meanSquaredError();

  it("is the mean of squared errors (hand-computed)", () => {
    const loss = mse.loss(tf.tensor2d([[1], [2], [4]]), tf.tensor2d([[0], [2], [1]]));
    expect(read(loss)[0]).toBeCloseTo(10 / 3, 6);
    const wide = mse.loss(
      tf.tensor2d([
        [1, 0],
        [3, 1],
      ]),
      tf.tensor2d([
        [0, 0],
        [1, 1],
      ]),
    );
    expect(read(wide)[0]).toBeCloseTo((1 + 0 + 4 + 0) / 4, 6);
  });

  it("taskLosses gives one mean per task, equal to loss on each task", () => {
    const pred = tf.tensor3d([
      [[1], [2]],
      [[0], [-1]],
    ]);
    const y = tf.tensor3d([
      [[0], [0]],
      [[0], [1]],
    ]);
    expect(read(mse.taskLosses!(pred, y))).toEqual([2.5, 2]);
    tf.dispose([pred, y]);
  });

  it("has Hessian 2I/N with respect to the predictions (second order through tf.grad)", () => {
    const v = [0.5, -1, 2, 0.25];
    const hvp = tf.tidy(() => {
      const y = tf.tensor2d([[0.1], [0.2], [0.3], [0.4]]);
      const g = tf.grad((p: tf.Tensor) => mse.loss(p, y));
      return tf.grad((p: tf.Tensor) => tf.sum(tf.mul(g(p), tf.tensor2d(v, [4, 1]))))(tf.tensor2d([[1], [-1], [0.5], [2]]));
    });
    read(hvp).forEach((h, i) => {
      expect(h).toBeCloseTo((2 * v[i]!) / 4, 6);
    });
  });

  it("rejects targets of another shape with a ConcordError naming y", () => {
    const pred = tf.zeros([3, 1]);
    const y = tf.zeros([3]);
    expect(() => mse.loss(pred, y)).toThrow(ConcordError);
    expect(() => mse.loss(pred, y)).toThrow(/^y: /);
    expect(() => mse.taskLosses!(pred, tf.zeros([3, 1]))).not.toThrow();
    expect(() => mse.taskLosses!(tf.zeros([3]), tf.zeros([3]))).toThrow(/pred: .*task axis/);
    tf.dispose([pred, y]);
  });
});

describeEachBackend("softmaxCrossEntropy", () => {
  const ce = softmaxCrossEntropy();

  it("equals mean(logSumExp(z) − z[y]) (hand-computed)", () => {
    const logits = tf.tensor2d([
      [1, 2, 3],
      [1, 1, 1],
    ]);
    const labels = tf.tensor1d([2, 0], "int32");
    // log(e + e² + e³) − 3 = 0.40760596444438013, log 3 = 1.0986122886681098
    expect(read(ce.loss(logits, labels))[0]).toBeCloseTo(0.753109126556245, 6);
    expect(read(ce.loss(logits, tf.tensor1d([2, 0], "float32")))[0]).toBeCloseTo(0.753109126556245, 6);
    tf.dispose([logits, labels]);
  });

  it("is finite for huge logits (max-shifted logSumExp)", () => {
    const logits = tf.tensor2d([[1000, 0, -1000]]);
    expect(read(ce.loss(logits, tf.tensor1d([0], "int32")))[0]).toBeCloseTo(0, 5);
    expect(read(ce.loss(logits, tf.tensor1d([1], "int32")))[0]).toBeCloseTo(1000, 2);
    logits.dispose();
  });

  it("reports accuracy as the fraction of arg-max hits", () => {
    const logits = tf.tensor2d([
      [0, 1, 5],
      [3, 1, 0],
      [0, 2, 1],
    ]);
    const { accuracy } = ce.metrics!(logits, tf.tensor1d([2, 1, 1], "int32"));
    expect(read(accuracy!)[0]).toBeCloseTo(2 / 3, 6);
    const batched = ce.metrics!(
      tf.stack([logits, logits]),
      tf.tensor2d(
        [
          [2, 1, 1],
          [2, 0, 1],
        ],
        [2, 3],
        "int32",
      ),
    );
    expect(read(batched.accuracy!)[0]).toBeCloseTo(5 / 6, 6);
    logits.dispose();
  });

  it("taskLosses equals loss on each task", () => {
    const logits = [
      tf.tensor2d([
        [0.2, -0.3],
        [1, 0.5],
      ]),
      tf.tensor2d([
        [2, 1],
        [-1, 0],
      ]),
    ];
    const labels = [tf.tensor1d([1, 0], "int32"), tf.tensor1d([0, 1], "int32")];
    const perTask = logits.map((z, i) => read(ce.loss(z, labels[i]!))[0]!);
    const batched = read(ce.taskLosses!(tf.stack(logits), tf.stack(labels)));
    batched.forEach((l, i) => {
      expect(l).toBeCloseTo(perTask[i]!, 6);
    });
    tf.dispose([...logits, ...labels]);
  });

  it("rejects labels that are not class indices with a ConcordError naming y", () => {
    const logits = tf.zeros([2, 3]);
    for (const bad of [
      [0, 3],
      [-1, 0],
      [0.5, 1],
    ]) {
      expect(() => ce.loss(logits, tf.tensor1d(bad))).toThrow(/^y: .*\[0, 3\)/);
    }
    expect(() => ce.loss(logits, tf.tensor1d([0, 1, 2], "int32"))).toThrow(ConcordError);
    expect(() => ce.loss(logits, tf.tensor2d([[0], [1]], [2, 1], "int32"))).toThrow(/^y: expected integer class labels of shape \[2\]/);
    logits.dispose();
  });

  const K = 4;
  const C = 3;
  const z0 = Float64Array.from([0.3, -1.2, 0.8, 1.5, 0.1, -0.4, -0.2, 0.6, 0.05, 2, -0.5, 0.4]);
  const labels = [2, 0, 1, 0];
  const loss64 = (z: Float64Array) => crossEntropy64(z, labels, C);

  it("first-order gradient matches central differences of a float64 cross-entropy", () => {
    const reference = finiteDifference(loss64, z0, 1e-6);
    expect(relativeError(crossEntropyGradient64(z0, labels, C), reference)).toBeLessThan(1e-7); // the reference itself
    const grad = tf.tidy(() => tf.grad((z: tf.Tensor) => ce.loss(z, tf.tensor1d(labels, "int32")))(tf.tensor2d(Float32Array.from(z0), [K, C])));
    const error = relativeError(read(grad), reference);
    expect(error).toBeLessThan(1e-5);
  });

  it("second-order (Hessian-vector product) matches central differences of the float64 gradient", () => {
    const v = Float64Array.from([1, -0.5, 0.25, 0.75, -1, 0.3, 0.2, 0.9, -0.6, -0.1, 0.4, 0.8]);
    const reference = finiteDifference((z) => crossEntropyGradient64(z, labels, C).reduce((s, g, i) => s + g * v[i]!, 0), z0, 1e-6);
    const hvp = (batched: boolean) =>
      tf.tidy(() => {
        const y = tf.tensor1d(labels, "int32");
        const loss = (z: tf.Tensor) => (batched ? tf.sum(ce.taskLosses!(tf.expandDims(z, 0), tf.expandDims(y, 0))) : ce.loss(z, y));
        const g = tf.grad(loss);
        return tf.grad((z: tf.Tensor) => tf.sum(tf.mul(g(z), tf.tensor2d(Float32Array.from(v), [K, C]))))(tf.tensor2d(Float32Array.from(z0), [K, C]));
      });
    expect(relativeError(read(hvp(false)), reference)).toBeLessThan(1e-5);
    expect(relativeError(read(hvp(true)), reference)).toBeLessThan(1e-5);
  });

  it("leaves no tensors behind across repeated second-order gradients", () => {
    const y = tf.tensor1d(labels, "int32");
    const z = tf.tensor2d(Float32Array.from(z0), [K, C]);
    const g = tf.grad((t: tf.Tensor) => ce.loss(t, y));
    expect(tensorGrowth(() => tf.tidy(() => void tf.grad((t: tf.Tensor) => tf.sum(tf.square(g(t))))(z)), 5)).toBe(0);
    tf.dispose([y, z]);
  });
});
