import * as tf from "@tensorflow/tfjs-core";
import { stopGradient } from "@concord/core";
import { describeEachBackend } from "@concord/core/testing";
import { expect, it } from "vitest";
import { concordGradientKernels } from "./gradients/register.js";
import { differentiatedKernels, kernelsWithoutConcordGradient, SUPPORTED_KERNELS } from "./support.js";

describeEachBackend("which kernels Concord can differentiate", () => {
  it("SUPPORTED_KERNELS lists every kernel of the gradient set, sorted, and is frozen", () => {
    expect([...SUPPORTED_KERNELS]).toEqual([...concordGradientKernels].sort());
    for (const name of ["BatchMatMul", "Conv2D", "MaxPool", "Tanh", "Exp", "Relu", "Softmax"]) expect(SUPPORTED_KERNELS).toContain(name);
    expect(SUPPORTED_KERNELS).not.toContain("Selu");
    expect(Object.isFrozen(SUPPORTED_KERNELS)).toBe(true);
  });

  it("kernelsWithoutConcordGradient names unsupported kernels and ones whose registered gradient is not Concord's", () => {
    expect(kernelsWithoutConcordGradient(["Tanh", "Selu", "BatchMatMul", "Selu"])).toEqual(["Selu"]);
    const concord = tf.getGradient("Exp")!;
    tf.registerGradient({ ...concord });
    try {
      expect(kernelsWithoutConcordGradient(["Exp", "Tanh"])).toEqual(["Exp"]);
    } finally {
      tf.registerGradient(concord);
    }
  });

  it("differentiatedKernels: the kernels between the inputs and the result, not those on other tensors only", () => {
    const w = tf.tensor2d([
      [0.5, -1],
      [2, 0.25],
    ]);
    const x = tf.tensor2d([[1, 2]]);
    const labels = tf.tensor1d([1], "int32");
    const before = tf.memory().numTensors;
    const kernels = differentiatedKernels(() => {
      const logits = tf.selu(tf.matMul(x, w));
      const onehot = tf.cast(tf.oneHot(labels, 2), "float32"); // labels only: not on the path from w
      const shift = stopGradient(tf.max(logits, 1, true)); // a customGrad node: no kernel, its own gradient
      return tf.sum(tf.mul(tf.sub(logits, shift), onehot));
    }, [w]);
    // Max feeds the customGrad, so backpropagation still calls its gradient (with a zero dy).
    expect(new Set(kernels)).toEqual(new Set(["BatchMatMul", "Selu", "Max", "Sub", "Multiply", "Sum"]));
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([w, x, labels]);
  });

  it("differentiatedKernels inside a recording tape leaves that tape usable", () => {
    const x = tf.scalar(0.7);
    const before = tf.memory().numTensors;
    const [grad] = tf.grads((t: tf.Tensor) => {
      expect(differentiatedKernels(() => tf.exp(t), [t])).toEqual(["Exp"]);
      return tf.square(t);
    })([x]);
    expect(grad!.dataSync()[0]).toBeCloseTo(1.4, 6);
    tf.dispose(grad);
    expect(tf.memory().numTensors).toBe(before);
    x.dispose();
  });
});
