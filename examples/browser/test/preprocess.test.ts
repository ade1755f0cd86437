/** The page's drawing preprocessing equals the Omniglot loader's pixels (no browser needed). */
import { readFileSync } from "node:fs";
import { decodeImage } from "@concord/tasks/node";
import { describe, expect, it } from "vitest";
import { DRAWING_SIZE, drawingToInput, greyFromRgba, hasInk, INPUT_SIZE } from "../src/few-shot/preprocess.js";
import { findOmniglotDir, fixedTasks } from "./omniglot-tasks.js";

const omniglotDir = findOmniglotDir();
if (!omniglotDir && process.env.CI === "true") throw new Error("CI=true: the Omniglot data folder (../shared/data/omniglot beside the repository) is missing");
if (!omniglotDir) console.warn("[preprocess test] Omniglot comparison SKIPPED: no data in ../shared/data/omniglot (or CONCORD_OMNIGLOT_DIR)");

describe("drawing preprocessing", () => {
  it("RGBA canvas pixels become 1-bit grey (white 1); transparent counts as white", () => {
    const n = DRAWING_SIZE * DRAWING_SIZE;
    const rgba = new Uint8ClampedArray(4 * n).fill(255);
    rgba.set([0, 0, 0, 255], 0); // black
    rgba.set([100, 100, 100, 255], 4); // dark grey → ink
    rgba.set([200, 200, 200, 255], 8); // light grey → paper
    rgba.set([0, 0, 0, 0], 12); // transparent → paper
    const grey = greyFromRgba(rgba);
    expect(Array.from(grey.subarray(0, 5))).toEqual([0, 0, 1, 1, 1]);
    expect(hasInk(grey)).toBe(true);
    expect(hasInk(new Float32Array(n).fill(1))).toBe(false);
  });

  it("a blank drawing is an all-zero input; a full black one all ones", () => {
    expect(drawingToInput(new Float32Array(DRAWING_SIZE * DRAWING_SIZE).fill(1)).every((v) => v === 0)).toBe(true);
    const black = drawingToInput(new Float32Array(DRAWING_SIZE * DRAWING_SIZE));
    expect(black).toHaveLength(INPUT_SIZE * INPUT_SIZE);
    expect(black.every((v) => v === 1)).toBe(true);
  });

  it.skipIf(!omniglotDir)("gives the Omniglot loader's pixels bit for bit on 200 real drawings", async () => {
    const { test, tasks } = await fixedTasks(omniglotDir!);
    const expected = new Float32Array(INPUT_SIZE * INPUT_SIZE);
    let checked = 0;
    for (const task of tasks) {
      for (const image of [...task.support, ...task.query]) {
        test.copyImage(image.classIndex, image.imageIndex, expected, 0);
        const input = drawingToInput(decodeImage(readFileSync(image.png), image.png, 1).pixels);
        expect(Array.from(input), image.png).toEqual(Array.from(expected));
        checked += 1;
      }
    }
    expect(checked).toBe(200);
  });
});
