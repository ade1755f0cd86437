// On the real Omniglot beside the project (../shared/data/omniglot). Decoding all 32,460 PNGs takes
// about 11 s on a 2-core machine, so this file decodes them once, into a temp cache, and checks the rest there.
import { existsSync } from "node:fs";
import { stat } from "node:fs/promises";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import * as tf from "@tensorflow/tfjs-core";
import "@tensorflow/tfjs-backend-cpu";
import { createRng } from "@concord/core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { fewShot } from "../few-shot.js";
import { readImage, type ImageDataset } from "../image-dataset.js";
import { loadOmniglot, type Omniglot } from "./omniglot.js";
import { makeTempDir } from "./testing/fixtures.js";

const OMNIGLOT_DIR = process.env.CONCORD_OMNIGLOT ?? resolve(dirname(fileURLToPath(import.meta.url)), "../../../../../shared/data/omniglot");
const absent = !existsSync(join(OMNIGLOT_DIR, "images_background"));
if (absent) console.log(`Skipping the real-Omniglot tests: ${OMNIGLOT_DIR}/images_background not found (set CONCORD_OMNIGLOT to its folder).`);

const names = (dataset: ImageDataset) => Array.from({ length: dataset.classCount }, (_, c) => dataset.className(c));

describe.skipIf(absent)("loadOmniglot on the real data", () => {
  let temp: { path: string; cleanup: () => Promise<void> };
  let omniglot: Omniglot;
  beforeAll(async () => {
    temp = await makeTempDir();
    const started = Date.now();
    omniglot = await loadOmniglot(OMNIGLOT_DIR, { cacheDir: temp.path, progress: false });
    console.log(`Omniglot: decoded 32,460 PNGs in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  });
  afterAll(() => temp?.cleanup());

  it("has 1623 characters in 50 alphabets (964 in 30 background, 659 in 20 evaluation), 20 drawings each", () => {
    const { characters } = omniglot;
    expect(omniglot.fromCache).toBe(false);
    expect(characters.classCount).toBe(1623);
    expect(omniglot.setSizes).toEqual({ images_background: 964, images_evaluation: 659 });
    const alphabets = new Set(Array.from({ length: 1623 }, (_, c) => omniglot.alphabetOf(c)));
    expect(alphabets.size).toBe(50);
    expect(new Set(names(omniglot.split("background")).map((n) => n.split("/")[0])).size).toBe(30);
    expect(new Set(names(omniglot.split("evaluation")).map((n) => n.split("/")[0])).size).toBe(20);
    for (let c = 0; c < 1623; c++) expect(characters.imageCount(c)).toBe(20);
    expect(characters.imageShape).toEqual([28, 28, 1]);
  });

  it("stores strokes as 1 on a 0 background, values in [0, 1]", () => {
    let inkSum = 0;
    for (const c of [0, 500, 1622]) {
      const image = readImage(omniglot.characters, c, 0);
      for (const v of image) expect(v >= 0 && v <= 1).toBe(true);
      expect(image[0]).toBe(0); // corners are background
      const mean = image.reduce((a, b) => a + b, 0) / image.length;
      expect(mean).toBeGreaterThan(0.02);
      expect(mean).toBeLessThan(0.5); // mostly background
      inkSum += mean;
    }
    expect(inkSum).toBeGreaterThan(0);
  });

  it("writes one cache file and reads it on the next load", async () => {
    const { size } = await stat(omniglot.cacheFile!);
    console.log(`Omniglot cache file: ${(size / 2 ** 20).toFixed(1)} MiB`);
    expect(size).toBeGreaterThan(32460 * 28 * 28);
    const again = await loadOmniglot(OMNIGLOT_DIR, { cacheDir: temp.path, progress: false });
    expect(again.fromCache).toBe(true);
    expect(readImage(again.characters, 1000, 7)).toEqual(readImage(omniglot.characters, 1000, 7));
  });

  it("splits as MAML: 1200 characters × 4 rotations for training, 423 for test, never mixed", () => {
    const { train, test } = omniglot.mamlSplit();
    expect(train.classCount).toBe(4800);
    expect(test.classCount).toBe(423);
    const trainBases = new Set(names(train).map((n) => n.split("/").slice(0, 2).join("/")));
    expect(trainBases.size).toBe(1200);
    expect(names(test).filter((n) => trainBases.has(n))).toEqual([]);
  });

  it("samples 5-way 1-shot episodes from the training split", async () => {
    await tf.setBackend("cpu");
    const [task] = fewShot({ dataset: omniglot.mamlSplit().train, ways: 5, shots: 1, queryShots: 15 }).sample(1, createRng(0));
    expect(task!.support.x.shape).toEqual([5, 28, 28, 1]);
    expect(task!.query.x.shape).toEqual([75, 28, 28, 1]);
    expect(Array.from(task!.support.y.dataSync()).sort()).toEqual([0, 1, 2, 3, 4]);
    tf.dispose([task!.support.x, task!.support.y, task!.query.x, task!.query.y]);
  });
});
