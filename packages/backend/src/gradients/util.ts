import * as tf from "@tensorflow/tfjs-core";

/** The single-tensor `dy` of a one-output kernel (multi-output kernels get an array). */
export function single(dy: tf.Tensor | tf.Tensor[]): tf.Tensor {
  if (Array.isArray(dy)) throw new Error("Concord gradient: expected one upstream gradient, got several");
  return dy;
}

/** The upstream gradients of a multi-output kernel. */
export function several(dy: tf.Tensor | tf.Tensor[]): tf.Tensor[] {
  return Array.isArray(dy) ? dy : [dy];
}

/** The saved tensor at `index` (saved tensors are the kernel's inputs, never its outputs). */
export function saved(tensors: tf.Tensor[], index: number): tf.Tensor {
  const tensor = tensors[index];
  if (tensor === undefined) throw new Error(`Concord gradient: saved input ${index} is missing`);
  return tensor;
}

/**
 * Sums a broadcast gradient back to `shape` (the axes broadcasting added or stretched) and gives
 * it exactly `shape`. `grad` must be a tensor the gradient function created itself: when no work
 * is needed it is returned as is.
 */
export function unbroadcast(grad: tf.Tensor, shape: number[]): tf.Tensor {
  const axes = tf.backend_util.getReductionAxes(shape, grad.shape);
  const reduced = axes.length > 0 ? tf.sum(grad, axes) : grad;
  return tf.util.arraysEqual(reduced.shape, shape) ? reduced : tf.reshape(reduced, shape);
}

/**
 * `unbroadcast` for the upstream `dy` itself: always returns a new tensor, because the tape
 * disposes the gradients it accumulates and must never be handed the very `dy` it passed in.
 * A sum is already a new tensor, so it is reshaped only when its shape differs (one Reshape
 * kernel less per broadcast bias gradient, and one more in every gradient of that gradient).
 */
export function unbroadcastUpstream(dy: tf.Tensor, shape: number[]): tf.Tensor {
  const axes = tf.backend_util.getReductionAxes(shape, dy.shape);
  if (axes.length === 0) return tf.reshape(dy, shape);
  const reduced = tf.sum(dy, axes);
  return tf.util.arraysEqual(reduced.shape, shape) ? reduced : tf.reshape(reduced, shape);
}

/** A float32 zero gradient for an input of this shape (a constant: nothing flows through it). */
export function zeroGradient(shape: number[]): tf.Tensor {
  return tf.zeros(shape, "float32");
}

/** Axes of a reduction attribute, normalised to non-negative indices. */
export function reductionAxes(axis: unknown, shape: number[]): number[] {
  return tf.util.parseAxisParam(axis as number | number[], shape);
}

/** `shape` with every reduced axis set to 1 (the keepDims shape of a reduction). */
export function keptShape(shape: number[], axes: number[]): number[] {
  return shape.map((size, i) => (axes.includes(i) ? 1 : size));
}

/** Product of the sizes of `axes` in `shape`. */
export function sizeOfAxes(shape: number[], axes: number[]): number {
  return axes.reduce((n, axis) => n * (shape[axis] ?? 1), 1);
}

/** Reads a numeric-array attribute. */
export function numbers(value: unknown): number[] {
  if (typeof value === "number") return [value];
  if (Array.isArray(value)) return value as number[];
  throw new Error(`Concord gradient: expected a number or number[] attribute, got ${String(value)}`);
}

/**
 * One-hot rows as float32. tfjs-backend-wasm 4.22 ignores oneHot's dtype argument and writes
 * int32 bit patterns into a float32 tensor, so build the int32 one-hot and cast it.
 */
export function oneHotFloat(indices: tf.Tensor, depth: number): tf.Tensor {
  const ints = indices.dtype === "int32" ? indices : tf.cast(indices, "int32");
  return tf.cast(tf.oneHot(ints, depth), "float32");
}

/**
 * tfjs-core 4.x's engine: whether the kernels run now are recorded on a gradient tape. A gradient may
 * run a kernel that has no gradient of its own only while this is false (nothing can differentiate it).
 */
export function tapeRecording(): boolean {
  const engine = tf.engine() as unknown as { isTapeOn?: () => boolean };
  // An engine without the method (another tfjs version): assume recording, the tf-op path is always right.
  return typeof engine.isTapeOn === "function" ? engine.isTapeOn() : true;
}
