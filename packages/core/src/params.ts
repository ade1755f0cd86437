import * as tf from "@tensorflow/tfjs-core";
import { ConcordError } from "./errors.js";
import type { InnerOptimizer, Params } from "./types.js";

/** Applies `fn` to every parameter, keeping key order. */
export function mapParams(params: Params, fn: (value: tf.Tensor, name: string) => tf.Tensor): Params {
  const out: Record<string, tf.Tensor> = {};
  for (const [name, value] of Object.entries(params)) out[name] = fn(value, name);
  return out;
}

/** Combines two parameter maps with the same keys and shapes. */
export function zipParams(a: Params, b: Params, fn: (x: tf.Tensor, y: tf.Tensor, name: string) => tf.Tensor): Params {
  assertSameKeys(a, b);
  return mapParams(a, (x, name) => fn(x, b[name]!, name));
}

export const addParams = (a: Params, b: Params): Params => zipParams(a, b, (x, y) => tf.add(x, y));
export const subParams = (a: Params, b: Params): Params => zipParams(a, b, (x, y) => tf.sub(x, y));
export const scaleParams = (a: Params, factor: number | tf.Scalar): Params => mapParams(a, (x) => tf.mul(x, factor));

/** Σ over all parameters of the elementwise product: the inner product of the flattened maps. */
export function dotParams(a: Params, b: Params): tf.Scalar {
  assertSameKeys(a, b);
  return tf.tidy(() => tf.addN(Object.keys(a).map((name) => tf.sum(tf.mul(a[name]!, b[name]!)))) as tf.Scalar);
}

/** Number of scalar parameters. */
export function countParams(params: Params): number {
  return Object.values(params).reduce((total, value) => total + value.size, 0);
}

/** All parameters as one vector, in key order. */
export function flattenParams(params: Params): tf.Tensor1D {
  return tf.tidy(
    () =>
      tf.concat(
        Object.values(params).map((value) => tf.reshape(value, [-1])),
        0,
      ) as tf.Tensor1D,
  );
}

/**
 * With a leading task axis on every parameter ([T, ...]), one row per task: [T, P].
 * Row i equals flattenParams of task i's parameters.
 */
export function flattenStackedParams(params: Params): tf.Tensor2D {
  return tf.tidy(() => {
    const values = Object.values(params);
    const tasks = values[0]?.shape[0] ?? 0;
    return tf.concat(
      values.map((value) => tf.reshape(value, [tasks, -1])),
      1,
    ) as tf.Tensor2D;
  });
}

/** Inverse of flattenParams: cuts `vector` into tensors shaped like `like`. */
export function unflattenParams(vector: tf.Tensor1D, like: Params): Params {
  const total = countParams(like);
  if (vector.size !== total) {
    throw new ConcordError(`expected a vector of ${total} values, got ${vector.size}`, { field: "vector" });
  }
  const out: Record<string, tf.Tensor> = {};
  let offset = 0;
  for (const [name, value] of Object.entries(like)) {
    const start = offset;
    out[name] = tf.tidy(() => tf.reshape(tf.slice(vector, [start], [value.size]), value.shape));
    offset += value.size;
  }
  return out;
}

/** Stacks per-task parameter maps on a new leading task axis. */
export function stackParams(perTask: readonly Params[]): Params {
  const first = perTask[0];
  if (!first) throw new ConcordError("expected at least one parameter map", { field: "params" });
  for (const params of perTask) assertSameKeys(first, params);
  return mapParams(first, (_, name) => tf.stack(perTask.map((params) => params[name]!)));
}

/** Repeats every parameter `count` times on a new leading task axis (differentiable). */
export function tileParams(params: Params, count: number): Params {
  return mapParams(params, (value) => tf.tidy(() => tf.tile(tf.expandDims(value, 0), [count, ...value.shape.map(() => 1)])));
}

/** Task `index` of a stacked parameter map. */
export function sliceTaskParams(stacked: Params, index: number): Params {
  return mapParams(stacked, (value) => tf.tidy(() => tf.squeeze(tf.slice(value, [index], [1]), [0])));
}

/** Keeps every parameter alive outside tf.tidy (tf.keep on each). */
export function keepParams(params: Params): Params {
  for (const value of Object.values(params)) tf.keep(value);
  return params;
}

export function disposeParams(params: Params | undefined): void {
  if (params) tf.dispose(Object.values(params));
}

/** Copies parameters into new tensors (so the original can be disposed independently). */
export function cloneParams(params: Params): Params {
  return mapParams(params, (value) => tf.clone(value));
}

/** True when every value is finite. Reads the data synchronously. */
export function paramsAreFinite(params: Params): boolean {
  return Object.values(params).every((value) => (value.dataSync() as Float32Array).every(Number.isFinite));
}

/** Throws when two maps do not have the same keys in the same order, with the same shapes. */
export function assertSameKeys(a: Params, b: Params, field = "params"): void {
  const keysA = Object.keys(a);
  const keysB = Object.keys(b);
  if (keysA.length !== keysB.length || keysA.some((key, i) => key !== keysB[i])) {
    throw new ConcordError(`expected parameters [${keysA.join(", ")}], got [${keysB.join(", ")}]`, { field });
  }
  for (const key of keysA) {
    const shapeA = a[key]!.shape;
    const shapeB = b[key]!.shape;
    if (shapeA.length !== shapeB.length || shapeA.some((size, i) => size !== shapeB[i])) {
      throw new ConcordError(`expected shape [${shapeA}], got [${shapeB}]`, { field: `${field}.${key}` });
    }
  }
}

/**
 * The model's own entries of a parameter map that may also hold an inner optimizer's parameters
 * (InnerOptimizer.ownParams): what `Model.forward` is given. The same object when there are none.
 */
export function modelParamsOf(params: Params, innerOptimizer: Pick<InnerOptimizer, "ownParams"> | undefined): Params {
  const own = innerOptimizer?.ownParams;
  if (!own) return params;
  const out: Record<string, tf.Tensor> = {};
  for (const [name, value] of Object.entries(params)) if (own.target(name) === undefined) out[name] = value;
  return out;
}

/** Freshly initialised model parameters plus the inner optimizer's own (ownParams.init), model entries first. */
export function withInnerOptimizerParams(modelParams: Params, innerOptimizer: Pick<InnerOptimizer, "ownParams">): Params {
  const own = innerOptimizer.ownParams;
  return own ? { ...modelParams, ...own.init(modelParams) } : modelParams;
}
