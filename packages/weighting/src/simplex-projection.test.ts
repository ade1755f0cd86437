import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { projectOntoSimplex } from "./simplex-projection.js";
import { bisectionProjection } from "./testing/bisection-projection.js";

const maxAbsDiff = (a: readonly number[], b: readonly number[]) => Math.max(...a.map((x, i) => Math.abs(x - b[i]!)));
const vector = fc.array(fc.double({ min: -5, max: 5, noNaN: true }), { minLength: 1, maxLength: 12 });

describe("projectOntoSimplex (Duchi et al. 2008, sort-based)", () => {
  it("hand-worked projections", () => {
    // (4/3, 1/3, 7/12): ρ = 2, θ = (4/3 + 7/12 − 1)/2 = 11/24 → (7/8, 0, 1/8).
    expect(maxAbsDiff(projectOntoSimplex([4 / 3, 1 / 3, 7 / 12]), [7 / 8, 0, 1 / 8])).toBeLessThanOrEqual(1e-15);
    // A point of the simplex is its own projection; (1, 1) → (1/2, 1/2); (3, 0) → (1, 0); a single value → 1.
    expect(maxAbsDiff(projectOntoSimplex([0.2, 0.3, 0.5]), [0.2, 0.3, 0.5])).toBeLessThanOrEqual(1e-15);
    expect(projectOntoSimplex([1, 1])).toEqual([0.5, 0.5]);
    expect(projectOntoSimplex([3, 0])).toEqual([1, 0]);
    expect(projectOntoSimplex([-7])).toEqual([1]);
  });

  it("matches a bisection-on-threshold projection to 1e-12", () => {
    fc.assert(
      fc.property(vector, (values) => {
        expect(maxAbsDiff(projectOntoSimplex(values), bisectionProjection(values))).toBeLessThanOrEqual(1e-12);
      }),
    );
  });

  it("lands on the simplex and is the closest point: ‖Π(v) − v‖ ≤ ‖q − v‖ for random simplex points q", () => {
    const pointOnSimplex = (size: number) =>
      fc
        .array(fc.double({ min: 0, max: 1, noNaN: true }), { minLength: size, maxLength: size })
        .filter((x) => x.some((y) => y > 0))
        .map((x) => {
          const total = x.reduce((a, b) => a + b, 0);
          return x.map((y) => y / total);
        });
    fc.assert(
      fc.property(
        vector.chain((values) => pointOnSimplex(values.length).map((q) => ({ values, q }))),
        ({ values, q }) => {
          const projected = projectOntoSimplex(values);
          expect(projected.every((p) => p >= 0)).toBe(true);
          expect(Math.abs(projected.reduce((a, b) => a + b, 0) - 1)).toBeLessThanOrEqual(1e-12);
          const distance = (x: readonly number[]) => Math.hypot(...x.map((xi, i) => xi - values[i]!));
          expect(distance(projected)).toBeLessThanOrEqual(distance(q) + 1e-12);
        },
      ),
    );
  });
});
