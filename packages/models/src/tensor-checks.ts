import * as tf from "@tensorflow/tfjs-core";
import { ConcordError, expect } from "@concord/core";

/** Throws a ConcordError naming `field` unless `value` is a float32 tensor of exactly `expected` shape. */
export function checkShape(value: tf.Tensor | undefined, field: string, expected: readonly number[]): void {
  expect(value instanceof tf.Tensor, field, `expected a tensor of shape [${expected.join(", ")}], got ${describeValue(value)}`);
  const shape = value.shape;
  if (shape.length !== expected.length || shape.some((size, i) => size !== expected[i])) {
    throw new ConcordError(`expected shape [${expected.join(", ")}], got [${shape.join(", ")}]`, { field });
  }
  expect(value.dtype === "float32", field, `expected dtype float32, got ${value.dtype}`);
}

/** A short description of a non-tensor value for error messages. */
export function describeValue(value: unknown): string {
  if (value === undefined || value === null) return String(value);
  if (Array.isArray(value)) return "an array";
  return typeof value;
}
