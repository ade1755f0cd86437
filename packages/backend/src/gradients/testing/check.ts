// Test-only: checks a registered gradient at first and second order against central finite
// differences, and records which kernels its gradients run (for the closure check).
import * as tf from "@tensorflow/tfjs-core";
import { createRng } from "@concord/core";

export type Family = "arithmetic" | "unary" | "constant" | "reduction" | "shape" | "matmul" | "conv" | "batch-norm" | "cross-entropy";

/** A differentiable input: its shape and values (float32; chosen away from kinks and ties). */
export interface InputSpec {
  readonly shape: number[];
  readonly values: number[];
}

export interface GradientCase {
  readonly name: string;
  readonly family: Family;
  /** The registered kernels whose gradients this case is meant to exercise. */
  readonly kernels: readonly string[];
  readonly inputs: readonly InputSpec[];
  readonly f: (...xs: tf.Tensor[]) => tf.Tensor;
  /** Finite-difference step (default 1e-2). */
  readonly h?: number;
}

/** `count` values in [low, high] at least `gap` apart and shuffled (no ties, no kinks between). */
export function spread(count: number, low: number, high: number, seed: number): number[] {
  const rng = createRng(seed);
  const step = (high - low) / count;
  const values = Array.from({ length: count }, (_, i) => low + (i + 0.25 + 0.5 * rng.next()) * step);
  for (let i = values.length - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    [values[i], values[j]] = [values[j]!, values[i]!];
  }
  return values;
}

/** Values in [low, high] for a tensor of `shape`, away from each other by (high − low)/(2·size). */
export function input(shape: number[], low: number, high: number, seed: number): InputSpec {
  return {
    shape,
    values: spread(
      shape.reduce((a, b) => a * b, 1),
      low,
      high,
      seed,
    ),
  };
}

/** Values of `shape` whose magnitudes lie in [low, high] with random signs (away from 0). */
export function signedInput(shape: number[], low: number, high: number, seed: number): InputSpec {
  const rng = createRng(seed + 7);
  const base = input(shape, low, high, seed);
  return { shape, values: base.values.map((v) => (rng.next() < 0.5 ? -v : v)) };
}

/** Runs `body` in a tf scope that frees every tensor it creates (tf.tidy for non-tensor results). */
export function scoped<T>(body: () => T): T {
  tf.engine().startScope();
  try {
    return body();
  } finally {
    tf.engine().endScope();
  }
}

function weights(size: number, seed: number): Float64Array {
  const rng = createRng(seed);
  return Float64Array.from({ length: size }, () => rng.uniform(-1, 1));
}

/**
 * The scalar objective of a case: L(x) = Σ w ⊙ f(x) + ½ Σ f(x)². The quadratic term makes the
 * second derivative nonzero even for linear kernels, so the gradient's dependence on dy is
 * differentiated too.
 */
function objective(c: GradientCase, w: tf.Tensor) {
  return (...xs: tf.Tensor[]): tf.Scalar => {
    const y = c.f(...xs);
    return tf.add(tf.sum(tf.mul(w, y)), tf.mul(tf.sum(tf.square(y)), 0.5)) as tf.Scalar;
  };
}

/** Float64 value of L(x) from the float32 output of f. */
function objectiveValue(c: GradientCase, w: Float64Array, xs: Float32Array[]): number {
  const ys = scoped(() => c.f(...xs.map((values, i) => tf.tensor(values, c.inputs[i]!.shape))).dataSync());
  let total = 0;
  for (let k = 0; k < ys.length; k++) total += w[k]! * ys[k]! + 0.5 * ys[k]! * ys[k]!;
  return total;
}

export interface CheckResult {
  /** Concatenated analytic and finite-difference derivatives over all inputs. */
  readonly analytic: Float64Array;
  readonly numeric: Float64Array;
}

function centralDifference(xs: Float32Array[], h: number, value: (xs: Float32Array[]) => number): Float64Array {
  const out: number[] = [];
  xs.forEach((x, i) => {
    for (let j = 0; j < x.length; j++) {
      const plus = xs.map((t) => Float32Array.from(t));
      const minus = xs.map((t) => Float32Array.from(t));
      plus[i]![j]! += h;
      minus[i]![j]! -= h;
      // Use the step actually representable in float32.
      const step = plus[i]![j]! - minus[i]![j]!;
      out.push((value(plus) - value(minus)) / step);
    }
  });
  return Float64Array.from(out);
}

function outputSize(c: GradientCase, xs: Float32Array[]): number {
  return scoped(() => c.f(...xs.map((values, i) => tf.tensor(values, c.inputs[i]!.shape))).size);
}

function initial(c: GradientCase): Float32Array[] {
  return c.inputs.map((spec) => Float32Array.from(spec.values));
}

function concat(parts: ArrayLike<number>[]): Float64Array {
  return Float64Array.from(parts.flatMap((p) => Array.from(p)));
}

/** ∇L analytic (the registered gradients) vs central differences of L. */
export function checkFirstOrder(c: GradientCase): CheckResult {
  const xs = initial(c);
  const w = weights(outputSize(c, xs), 11);
  const analytic = scoped(() => {
    const wT = tf.tensor(Float32Array.from(w));
    const grads = tf.grads(objective(c, tf.reshape(wT, c.f(...xs.map((v, i) => tf.tensor(v, c.inputs[i]!.shape))).shape)));
    return concat(grads(xs.map((v, i) => tf.tensor(v, c.inputs[i]!.shape))).map((g) => g.dataSync()));
  });
  const numeric = centralDifference(xs, c.h ?? 1e-2, (p) => objectiveValue(c, w, p));
  return { analytic, numeric };
}

/** The first-order gradients of L at xs (float32, from the registered gradients). */
function firstOrder(c: GradientCase, w: Float64Array, xs: tf.Tensor[]): tf.Tensor[] {
  const shape = scoped(() => c.f(...xs).shape);
  const wT = tf.reshape(tf.tensor(Float32Array.from(w)), shape);
  return tf.grads(objective(c, wT))(xs);
}

/** ∇(Σ ∇L ⊙ v) analytic (gradients of the registered gradients) vs central differences of it. */
export function checkSecondOrder(c: GradientCase): CheckResult {
  const xs = initial(c);
  const w = weights(outputSize(c, xs), 11);
  const v = xs.map((x, i) => weights(x.length, 100 + i));
  const tensors = (values: Float32Array[]) => values.map((t, i) => tf.tensor(t, c.inputs[i]!.shape));
  const directional = (...inputs: tf.Tensor[]): tf.Scalar =>
    tf.addN(firstOrder(c, w, inputs).map((g, i) => tf.sum(tf.mul(g, tf.tensor(Float32Array.from(v[i]!), g.shape))))) as tf.Scalar;
  const analytic = scoped(() =>
    concat(
      tf
        .grads(directional)(tensors(xs))
        .map((g) => g.dataSync()),
    ),
  );
  const value = (p: Float32Array[]): number =>
    scoped(() => {
      const grads = firstOrder(c, w, tensors(p)).map((g) => g.dataSync());
      let total = 0;
      grads.forEach((g, i) => {
        g.forEach((gk, k) => {
          total += gk * v[i]![k]!;
        });
      });
      return total;
    });
  const numeric = centralDifference(xs, c.h ?? 1e-2, value);
  return { analytic, numeric };
}

/**
 * Runs third-order gradients of the case under tf.profile and returns every kernel executed:
 * forward, first-, second- and third-order backward passes.
 */
export async function kernelsUpToThirdOrder(c: GradientCase): Promise<Set<string>> {
  const xs = initial(c);
  const w = weights(outputSize(c, xs), 11);
  const v = xs.map((x, i) => weights(x.length, 100 + i));
  const u = xs.map((x, i) => weights(x.length, 200 + i));
  const profile = await tf.profile(() =>
    tf.tidy(() => {
      const inputs = xs.map((t, i) => tf.tensor(t, c.inputs[i]!.shape));
      const second = (...p: tf.Tensor[]): tf.Scalar =>
        tf.addN(firstOrder(c, w, p).map((g, i) => tf.sum(tf.mul(g, tf.tensor(Float32Array.from(v[i]!), g.shape))))) as tf.Scalar;
      const third = (...p: tf.Tensor[]): tf.Scalar =>
        tf.addN(
          tf
            .grads(second)(p)
            .map((g, i) => tf.sum(tf.mul(g, tf.tensor(Float32Array.from(u[i]!), g.shape)))),
        ) as tf.Scalar;
      // Linear kernels have a constant second derivative: allow the third one to be unconnected.
      const { value, grads } = tf.engine().gradients(() => third(...inputs), inputs, undefined, true);
      return [value, ...grads.filter((g): g is tf.Tensor => g != null)];
    }),
  );
  tf.dispose(profile.result as tf.Tensor[]);
  return new Set(profile.kernels.map((k) => k.name));
}
