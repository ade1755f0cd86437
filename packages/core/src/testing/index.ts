// Test-only helpers shared by every package's tests (exported as "@concord/core/testing" from source only).
import * as tf from "@tensorflow/tfjs-core";
import "@tensorflow/tfjs-backend-cpu";
import "@tensorflow/tfjs-backend-wasm";
import { beforeAll, describe, expect } from "vitest";
import { ConcordError } from "../errors.js";

export const BACKENDS = ["cpu", "wasm"] as const;
export type BackendName = (typeof BACKENDS)[number];

/** Runs the same suite once per backend, switching tf's backend before its tests. */
export function describeEachBackend(title: string, body: (backend: BackendName) => void): void {
  for (const backend of BACKENDS) {
    describe(`${title} [${backend}]`, () => {
      beforeAll(async () => {
        if (!(await tf.setBackend(backend))) throw new Error(`backend ${backend} failed to initialise`);
        await tf.ready();
      });
      body(backend);
    });
  }
}

/** Central finite difference of a scalar function of a Float64 vector (computed in float64 JS). */
export function finiteDifference(f: (x: Float64Array) => number, x: Float64Array, h = 1e-4): Float64Array {
  const grad = new Float64Array(x.length);
  for (let i = 0; i < x.length; i++) {
    const plus = Float64Array.from(x);
    const minus = Float64Array.from(x);
    plus[i]! += h;
    minus[i]! -= h;
    grad[i] = (f(plus) - f(minus)) / (2 * h);
  }
  return grad;
}

export { relativeError, tensorGrowth } from "../conformance-support.js";

/** Asserts that `fn` throws a ConcordError naming `field` (and, when given, with a matching message). */
export function expectConcordError(fn: () => unknown, field: string, text?: string | RegExp): void {
  let caught: unknown;
  try {
    fn();
  } catch (error) {
    caught = error;
  }
  expect(caught).toBeInstanceOf(ConcordError);
  expect((caught as ConcordError).field).toBe(field);
  if (text !== undefined) expect((caught as ConcordError).message).toMatch(text);
}

/** Runs `fn`, asserts that it throws a ConcordError and returns it for further checks. */
export function catchConcordError(fn: () => unknown): ConcordError {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(ConcordError);
    return error as ConcordError;
  }
  throw new Error("expected a ConcordError");
}
