// The second-order bugs of tfjs's own gradients that Concord replaces, shown and shown fixed.
// tfjs computes the Exp/Tanh/Sigmoid gradients from the kernel's saved OUTPUT; the tape saves that
// output before recording the kernel that produced it, so the outer derivative treats it as a
// constant. Each check compares the Hessian-vector product of L(x) = Σ w·g(x) + ½ Σ g(x)² with
// its closed form in float64: ∂²L/∂x_i² = g'(x_i)² + (w_i + g(x_i)) g''(x_i) (diagonal Hessian).
import * as tf from "@tensorflow/tfjs-core";
import type { GradConfig } from "@tensorflow/tfjs-core";
import { afterAll, expect, it } from "vitest";
import { describeEachBackend, relativeError } from "@concord/core/testing";
import { registerConcordGradients } from "./register.js";
import { stopGradient } from "@concord/core";

const X = [-1.3, -0.4, 0.2, 0.9, 1.6];
const W = [0.5, -0.8, 0.3, 0.9, -0.2];
const V = [1, -0.5, 0.25, 0.75, -1];

interface Activation {
  kernel: string;
  apply: (x: tf.Tensor) => tf.Tensor;
  /** tfjs 4.22's gradient for this kernel, copied from dist/gradients/<Kernel>_grad.js. */
  tfjsGradient: GradConfig;
  value: (x: number) => number;
  first: (x: number) => number;
  second: (x: number) => number;
}

const sigma = (x: number) => 1 / (1 + Math.exp(-x));
const saveOutput = (kernel: string, derivative: (y: tf.Tensor, dy: tf.Tensor) => tf.Tensor): GradConfig => ({
  kernelName: kernel,
  outputsToSave: [true],
  gradFunc: (dy, saved) => ({ x: () => derivative(saved[0]!, dy as tf.Tensor) }),
});

const ACTIVATIONS: Activation[] = [
  {
    kernel: "Exp",
    apply: tf.exp,
    tfjsGradient: saveOutput("Exp", (y, dy) => tf.mul(dy, y)),
    value: Math.exp,
    first: Math.exp,
    second: Math.exp,
  },
  {
    kernel: "Tanh",
    apply: tf.tanh,
    tfjsGradient: saveOutput("Tanh", (y, dy) => tf.mul(tf.sub(1, tf.square(y)), dy)),
    value: Math.tanh,
    first: (x) => 1 - Math.tanh(x) ** 2,
    second: (x) => -2 * Math.tanh(x) * (1 - Math.tanh(x) ** 2),
  },
  {
    kernel: "Sigmoid",
    apply: tf.sigmoid,
    tfjsGradient: saveOutput("Sigmoid", (y, dy) => tf.mul(dy, tf.mul(y, tf.sub(1, y)))),
    value: sigma,
    first: (x) => sigma(x) * (1 - sigma(x)),
    second: (x) => sigma(x) * (1 - sigma(x)) * (1 - 2 * sigma(x)),
  },
];

/** ∇(Σ ∇L ⊙ v) computed by tf with whatever gradients are registered. */
function hessianVectorProduct(apply: (x: tf.Tensor) => tf.Tensor): Float32Array {
  return tf
    .tidy(() => {
      const w = tf.tensor1d(W);
      const v = tf.tensor1d(V);
      const loss = (x: tf.Tensor) => {
        const g = apply(x);
        return tf.add(tf.sum(tf.mul(w, g)), tf.mul(tf.sum(tf.square(g)), 0.5));
      };
      return tf.grad((x: tf.Tensor) => tf.sum(tf.mul(tf.grad(loss)(x), v)))(tf.tensor1d(X));
    })
    .dataSync() as Float32Array;
}

function expected(a: Activation): number[] {
  return X.map((x, i) => (a.first(x) ** 2 + (W[i]! + a.value(x)) * a.second(x)) * V[i]!);
}

describeEachBackend("tfjs second-order bugs replaced by Concord", () => {
  afterAll(() => registerConcordGradients());

  for (const a of ACTIVATIONS) {
    it(`${a.kernel}: tfjs's output-based gradient is wrong at second order, Concord's is right`, () => {
      tf.registerGradient(a.tfjsGradient);
      const tfjsError = relativeError(hessianVectorProduct(a.apply), expected(a));
      registerConcordGradients(); // puts Concord's gradient back (idempotent for the others)
      const concordError = relativeError(hessianVectorProduct(a.apply), expected(a));
      console.log(`${a.kernel}: relative error of the Hessian-vector product, tfjs ${tfjsError.toExponential(2)}, Concord ${concordError.toExponential(2)}`);
      expect(tfjsError).toBeGreaterThan(0.1);
      expect(concordError).toBeLessThan(1e-5);
    });
  }

  it("cross-entropy from logits: tf.losses.softmaxCrossEntropy fails at second order, logits − logSumExp is right", () => {
    // L(z) = mean_k(lse(z_k) − z_k[y_k]); ∇L = (p − onehot)/K; Hessian-vector product per row:
    // (p ⊙ (v − p·v)) / K with p = softmax(z_k).
    const logits = [
      [0.3, -1.2, 0.8],
      [1.5, 0.1, -0.4],
    ];
    const labels = [2, 0];
    const v = [
      [0.5, -1, 0.25],
      [-0.75, 0.6, 1],
    ];
    const want = logits.flatMap((row, k) => {
      const m = Math.max(...row);
      const e = row.map((z) => Math.exp(z - m));
      const total = e.reduce((a, b) => a + b, 0);
      const p = e.map((x) => x / total);
      const pv = p.reduce((s, pi, i) => s + pi * v[k]![i]!, 0);
      return p.map((pi, i) => (pi * (v[k]![i]! - pv)) / logits.length);
    });
    const hvp = (loss: (z: tf.Tensor) => tf.Tensor): Float32Array =>
      tf
        .tidy(() => {
          const vt = tf.tensor2d(v);
          return tf.grad((z: tf.Tensor) => tf.sum(tf.mul(tf.grad(loss)(z), vt)))(tf.tensor2d(logits));
        })
        .dataSync() as Float32Array;
    const onehot = () => tf.cast(tf.oneHot(tf.tensor1d(labels, "int32"), 3), "float32");
    const ours = hvp((z) => {
      const shift = stopGradient(tf.max(z, 1, true));
      const lse = tf.add(tf.log(tf.sum(tf.exp(tf.sub(z, shift)), 1)), tf.reshape(shift, [-1]));
      return tf.mean(tf.sub(lse, tf.sum(tf.mul(z, onehot()), 1)));
    });
    const oursError = relativeError(ours, want);
    let tfjsError = Number.POSITIVE_INFINITY;
    try {
      tfjsError = relativeError(
        hvp((z) => tf.losses.softmaxCrossEntropy(onehot(), z)),
        want,
      );
    } catch (error) {
      // With only Concord's kernel gradients registered, tfjs's customGrad loss cannot even be
      // differentiated twice; with tfjs's own set it was silently about 50% off.
      console.log(`tf.losses.softmaxCrossEntropy twice: ${(error as Error).message}`);
    }
    console.log(`cross-entropy Hessian-vector product relative error: tf.losses ${tfjsError.toExponential(2)}, logSumExp form ${oursError.toExponential(2)}`);
    expect(tfjsError).toBeGreaterThan(0.1);
    expect(oursError).toBeLessThan(1e-5);
  });
});

describeEachBackend("stopGradient", () => {
  it("passes values through and blocks gradients at every order", () => {
    const [value, first, second] = tf.tidy(() => {
      const x = tf.tensor1d([0.5, -1, 2]);
      // f(x) = Σ x²·stop(x): ∂f/∂x = 2x·stop(x) = 2x², and ∂/∂x Σ 2x·stop(x) = 2·stop(x) = 2x.
      const f = (t: tf.Tensor) => tf.sum(tf.mul(tf.square(t), stopGradient(t)));
      const g = tf.grad(f);
      return [stopGradient(x), g(x), tf.grad((t: tf.Tensor) => tf.sum(g(t)))(x)];
    }) as [tf.Tensor, tf.Tensor, tf.Tensor];
    expect(Array.from(value.dataSync())).toEqual([0.5, -1, 2]);
    expect(Array.from(first.dataSync())).toEqual([0.5, 2, 8]);
    expect(Array.from(second.dataSync())).toEqual([1, -2, 4]);
    tf.dispose([value, first, second]);
  });
});
