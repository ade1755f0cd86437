// Test-only: the finite-difference suite for one family of registered gradients, on every backend.
import * as tf from "@tensorflow/tfjs-core";
import { afterAll, expect, it } from "vitest";
import { describeEachBackend, relativeError } from "@concord/core/testing";
import { GRADIENT_CASES } from "./cases.js";
import { checkFirstOrder, checkSecondOrder, type Family } from "./check.js";

/** Relative-error bounds: float32 evaluation with h = 1e-2 measures well under these. */
export const FIRST_ORDER_TOLERANCE = 2e-3;
export const SECOND_ORDER_TOLERANCE = 4e-3;

export function describeGradientFamily(family: Family): void {
  const cases = GRADIENT_CASES.filter((c) => c.family === family);
  describeEachBackend(`${family} gradients`, (backend) => {
    const worst = { first: 0, second: 0 };
    afterAll(() => {
      console.log(
        `${family} [${backend}] ${cases.length} cases, worst relative error: first order ${worst.first.toExponential(2)}, second order ${worst.second.toExponential(2)}`,
      );
    });
    for (const c of cases) {
      it(`${c.name}: first order matches central differences`, () => {
        const before = tf.memory().numTensors;
        const { analytic, numeric } = checkFirstOrder(c);
        const error = relativeError(analytic, numeric);
        worst.first = Math.max(worst.first, error);
        expect(error, `analytic ${Array.from(analytic)}\nnumeric ${Array.from(numeric)}`).toBeLessThan(FIRST_ORDER_TOLERANCE);
        expect(tf.memory().numTensors).toBe(before);
      });
      it(`${c.name}: second order matches central differences of the gradient`, () => {
        const before = tf.memory().numTensors;
        const { analytic, numeric } = checkSecondOrder(c);
        const error = relativeError(analytic, numeric);
        worst.second = Math.max(worst.second, error);
        expect(error, `analytic ${Array.from(analytic)}\nnumeric ${Array.from(numeric)}`).toBeLessThan(SECOND_ORDER_TOLERANCE);
        expect(tf.memory().numTensors).toBe(before);
      });
    }
  });
}
