import { ConcordError } from "@concord/core";
import { describe, expect, it } from "vitest";
import { packedImageDataset, readImage, selectClasses, withRotations } from "./image-dataset.js";

describe("packedImageDataset", () => {
  it("reads a Uint8 block as v / 255, class after class", () => {
    // Two 1×2×1 images in class 0, one in class 1.
    const dataset = packedImageDataset({
      pixels: Uint8Array.from([0, 255, 51, 102, 204, 153]),
      imageShape: [1, 2, 1],
      classSizes: [2, 1],
      classNames: ["a", "b"],
    });
    expect(dataset.classCount).toBe(2);
    expect(dataset.imageShape).toEqual([1, 2, 1]);
    expect([dataset.imageCount(0), dataset.imageCount(1)]).toEqual([2, 1]);
    expect([dataset.className(0), dataset.className(1)]).toEqual(["a", "b"]);
    expect(Array.from(readImage(dataset, 0, 0))).toEqual([0, 1]);
    expect(Array.from(readImage(dataset, 0, 1))).toEqual([Math.fround(0.2), Math.fround(0.4)]);
    expect(Array.from(readImage(dataset, 1, 0))).toEqual([Math.fround(0.8), Math.fround(0.6)]);
  });

  it("reads a Float32 block as is and writes at the given offset", () => {
    const dataset = packedImageDataset({ pixels: Float32Array.from([-1.5, 2.25]), imageShape: [1, 1, 2], classSizes: [1] });
    const target = new Float32Array(4).fill(9);
    dataset.copyImage(0, 0, target, 1);
    expect(Array.from(target)).toEqual([9, -1.5, 2.25, 9]);
    expect(dataset.className(0)).toBe("class0");
  });

  it("rejects a block of the wrong length, bad sizes and out-of-range indices", () => {
    expect(() => packedImageDataset({ pixels: new Uint8Array(5), imageShape: [1, 2, 1], classSizes: [2, 1] })).toThrow(
      /pixels: expected 3 images × 2 values = 6, got 5/,
    );
    expect(() => packedImageDataset({ pixels: new Uint8Array(0), imageShape: [1, 2, 1], classSizes: [] })).toThrow(ConcordError);
    expect(() => packedImageDataset({ pixels: new Uint8Array(2), imageShape: [1, 2, 1], classSizes: [1, 0] })).toThrow(/classSizes\[1\]/);
    expect(() => packedImageDataset({ pixels: new Uint8Array(2), imageShape: [1, 2, 1], classSizes: [1], classNames: ["a", "b"] })).toThrow(/classNames/);
    const dataset = packedImageDataset({ pixels: new Uint8Array(2), imageShape: [1, 2, 1], classSizes: [1] });
    expect(() => readImage(dataset, 1, 0)).toThrow(/classIndex/);
    expect(() => readImage(dataset, 0, 1)).toThrow(/imageIndex/);
    expect(() => readImage(dataset, 0, -1)).toThrow(/imageIndex/);
  });
});

describe("selectClasses", () => {
  it("renumbers the chosen classes in the given order", () => {
    const base = packedImageDataset({ pixels: Uint8Array.from([10, 20, 21, 30]), imageShape: [1, 1, 1], classSizes: [1, 2, 1], classNames: ["x", "y", "z"] });
    const view = selectClasses(base, [2, 1]);
    expect(view.classCount).toBe(2);
    expect([view.className(0), view.className(1)]).toEqual(["z", "y"]);
    expect([view.imageCount(0), view.imageCount(1)]).toEqual([1, 2]);
    expect(readImage(view, 1, 1)[0]).toBeCloseTo(21 / 255, 7);
    expect(() => selectClasses(base, [3])).toThrow(/classIndices\[0\]/);
    expect(() => view.className(2)).toThrow(/classIndex/);
  });
});

describe("withRotations", () => {
  // 3×3 image 1..9 (row-major); expected values are numpy's np.rot90(a, k).
  const image = [1, 2, 3, 4, 5, 6, 7, 8, 9];
  const base = packedImageDataset({ pixels: Float32Array.from(image), imageShape: [3, 3, 1], classSizes: [1], classNames: ["glyph"] });

  it("adds 90°, 180° and 270° counter-clockwise rotations as classes of their own", () => {
    const rotated = withRotations(base);
    expect(rotated.classCount).toBe(4);
    expect([0, 1, 2, 3].map((c) => rotated.className(c))).toEqual(["glyph", "glyph/rot90", "glyph/rot180", "glyph/rot270"]);
    expect(Array.from(readImage(rotated, 0, 0))).toEqual(image);
    expect(Array.from(readImage(rotated, 1, 0))).toEqual([3, 6, 9, 2, 5, 8, 1, 4, 7]);
    expect(Array.from(readImage(rotated, 2, 0))).toEqual([9, 8, 7, 6, 5, 4, 3, 2, 1]);
    expect(Array.from(readImage(rotated, 3, 0))).toEqual([7, 4, 1, 8, 5, 2, 9, 6, 3]);
  });

  it("rotates every channel of a pixel together", () => {
    // 2×2×2: pixel (i, j) holds (v, −v) with v = 1..4.
    const rgb = packedImageDataset({ pixels: Float32Array.from([1, -1, 2, -2, 3, -3, 4, -4]), imageShape: [2, 2, 2], classSizes: [1] });
    expect(Array.from(readImage(withRotations(rgb, [1]), 0, 0))).toEqual([2, -2, 4, -4, 1, -1, 3, -3]);
  });

  it("allows only 180° on non-square images and rejects bad turns", () => {
    const wide = packedImageDataset({ pixels: Float32Array.from([1, 2, 3, 4, 5, 6]), imageShape: [2, 3, 1], classSizes: [1] });
    expect(() => withRotations(wide)).toThrow(/square/);
    expect(Array.from(readImage(withRotations(wide, [2]), 0, 0))).toEqual([6, 5, 4, 3, 2, 1]);
    expect(() => withRotations(base, [0, 0])).toThrow(/distinct/);
    expect(() => withRotations(base, [4 as 0])).toThrow(/quarterTurns\[0\]/);
  });
});
