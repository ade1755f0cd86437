import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { resizeArea } from "./resize.js";

describe("resizeArea", () => {
  it("averages each 2×2 block when halving 4×4", () => {
    const image = [0, 1, 10, 20, 1, 2, 30, 40, 5, 5, 100, 0, 5, 5, 0, 0];
    expect(Array.from(resizeArea(image, [4, 4, 1], [2, 2]))).toEqual([1, 25, 5, 25]);
  });

  it("weighs shared pixels by their overlap for a non-integer factor (3×3 → 2×2)", () => {
    // Scale 1.5: output row 0 covers input rows 0 (weight 2/3) and 1 (1/3); row 1 covers 1 (1/3) and 2 (2/3).
    // out[0][0] = 4/9·a + 2/9·b + 2/9·d + 1/9·e with a..i = 1..9 = (4 + 4 + 8 + 5)/9 = 21/9.
    const out = resizeArea([1, 2, 3, 4, 5, 6, 7, 8, 9], [3, 3, 1], [2, 2]);
    expect(out[0]).toBeCloseTo(21 / 9, 6);
    expect(out[1]).toBeCloseTo((4 * 3 + 2 * 2 + 2 * 6 + 5) / 9, 6);
    expect(out[2]).toBeCloseTo((4 * 7 + 2 * 8 + 2 * 4 + 5) / 9, 6);
    expect(out[3]).toBeCloseTo((4 * 9 + 2 * 8 + 2 * 6 + 5) / 9, 6);
  });

  it("keeps channels apart and handles unequal factors per axis", () => {
    // 2×4×2 → 1×2: each output is the mean of a 2×2 block, per channel.
    const image = [1, -1, 3, -3, 5, -5, 7, -7, 9, -9, 11, -11, 13, -13, 15, -15];
    expect(Array.from(resizeArea(image, [2, 4, 2], [1, 2]))).toEqual([6, -6, 10, -10]);
  });

  it("returns a copy at the same size and repeats pixels when upscaling by an integer", () => {
    const image = [1, 2, 3, 4];
    const same = resizeArea(image, [2, 2, 1], [2, 2]);
    expect(Array.from(same)).toEqual(image);
    expect(Array.from(resizeArea(image, [2, 2, 1], [4, 4]))).toEqual([1, 1, 2, 2, 1, 1, 2, 2, 3, 3, 4, 4, 3, 3, 4, 4]);
  });

  it("preserves the mean of any image (property)", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 9 }),
        fc.integer({ min: 1, max: 9 }),
        fc.integer({ min: 1, max: 9 }),
        fc.integer({ min: 1, max: 9 }),
        fc.integer(),
        (inHeight, inWidth, outHeight, outWidth, seed) => {
          const image = Array.from({ length: inHeight * inWidth }, (_, i) => Math.sin(seed + i * 1.7));
          const out = resizeArea(image, [inHeight, inWidth, 1], [outHeight, outWidth]);
          const mean = (values: ArrayLike<number>) => Array.from(values).reduce((a, b) => a + b, 0) / values.length;
          expect(mean(out)).toBeCloseTo(mean(image), 5);
          for (const v of out) expect(Math.abs(v)).toBeLessThanOrEqual(1 + 1e-6);
        },
      ),
      { numRuns: 200 },
    );
  });

  it("rejects a size that is not a positive integer", () => {
    expect(() => resizeArea([1], [1, 1, 1], [0, 1])).toThrow(/size\[0\]/);
    expect(() => resizeArea([1], [1, 1, 1], [1, 2.5])).toThrow(/size\[1\]/);
  });
});
