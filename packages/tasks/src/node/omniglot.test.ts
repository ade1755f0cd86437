import { rm } from "node:fs/promises";
import { join } from "node:path";
import { ConcordError } from "@concord/core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readImage, type ImageDataset } from "../image-dataset.js";
import { loadOmniglot, type Omniglot } from "./omniglot.js";
import { makeTempDir, writeBinaryPng, writeOmniglotTree } from "./testing/fixtures.js";

const SETS = {
  images_background: { Alpha: 3, Beta: 2 },
  images_evaluation: { Gamma: 4, Delta: 1 },
};

function names(dataset: ImageDataset): string[] {
  return Array.from({ length: dataset.classCount }, (_, c) => dataset.className(c));
}

/** Base character of a possibly rotated class name ("Alpha/character01/rot90" → "Alpha/character01"). */
const baseName = (name: string) => name.split("/").slice(0, 2).join("/");

describe("loadOmniglot (a small tree in Omniglot's layout)", () => {
  let temp: { path: string; cleanup: () => Promise<void> };
  let omniglot: Omniglot;
  beforeAll(async () => {
    temp = await makeTempDir();
    await writeOmniglotTree(join(temp.path, "omniglot"), SETS, 4);
    omniglot = await loadOmniglot(join(temp.path, "omniglot"), { size: [8, 8], cacheDir: join(temp.path, "cache"), progress: false });
  });
  afterAll(() => temp.cleanup());

  it("loads every character of both sets, background first, with inverted 1-channel pixels", () => {
    const { characters } = omniglot;
    expect(characters.classCount).toBe(10);
    expect(omniglot.setSizes).toEqual({ images_background: 5, images_evaluation: 5 });
    expect(characters.imageShape).toEqual([8, 8, 1]);
    expect(names(characters).slice(0, 3)).toEqual(["Alpha/character01", "Alpha/character02", "Alpha/character03"]);
    expect(names(characters).slice(5)).toEqual(["Delta/character01", "Gamma/character01", "Gamma/character02", "Gamma/character03", "Gamma/character04"]);
    expect(omniglot.alphabetOf(5)).toBe("Delta");
    // Character 2 of Alpha (id 2) inks row 1 and, for drawing 3, pixel (7, 3): those are 1, the rest 0.
    const drawing = readImage(characters, 1, 2);
    for (let r = 0; r < 8; r++) {
      for (let c = 0; c < 8; c++) expect(drawing[r * 8 + c]).toBe(r === 1 || (r === 7 && c === 3) ? 1 : 0);
    }
    expect(omniglot.fromCache).toBe(false);
  });

  it("resizes to 28×28 by default and reads its cache the second time", async () => {
    const dir = join(temp.path, "omniglot");
    const first = await loadOmniglot(dir, { cacheDir: join(temp.path, "cache28"), progress: false });
    expect(first.characters.imageShape).toEqual([28, 28, 1]);
    expect(first.fromCache).toBe(false);
    const second = await loadOmniglot(dir, { cacheDir: join(temp.path, "cache28"), progress: false });
    expect(second.fromCache).toBe(true);
    expect(readImage(second.characters, 7, 1)).toEqual(readImage(first.characters, 7, 1));
  });

  it("gives the original background/evaluation split", () => {
    const background = omniglot.split("background");
    const evaluation = omniglot.split("evaluation");
    expect(background.classCount).toBe(5);
    expect(evaluation.classCount).toBe(5);
    expect(new Set(names(background).map((n) => n.split("/")[0]))).toEqual(new Set(["Alpha", "Beta"]));
    expect(new Set(names(evaluation).map((n) => n.split("/")[0]))).toEqual(new Set(["Gamma", "Delta"]));
    expect(() => omniglot.split("test" as "background")).toThrow(/split/);
  });

  it("gives MAML's split: seeded, disjoint, rotations only on the training side", () => {
    const split = omniglot.mamlSplit({ trainCharacters: 6, seed: 3 });
    expect(split.train.classCount).toBe(24);
    expect(split.test.classCount).toBe(4);
    expect(split.validation).toBeUndefined();
    const trainBases = new Set(names(split.train).map(baseName));
    expect(trainBases.size).toBe(6);
    expect(names(split.train).filter((n) => n.endsWith("/rot270"))).toHaveLength(6);
    const testNames = names(split.test);
    expect(testNames.every((n) => !n.includes("/rot"))).toBe(true);
    expect(testNames.filter((n) => trainBases.has(n))).toEqual([]); // training and test never mix
    expect(new Set([...trainBases, ...testNames]).size).toBe(10);

    // Same seed, same split; another seed, another.
    expect(names(omniglot.mamlSplit({ trainCharacters: 6, seed: 3 }).test)).toEqual(testNames);
    const others = [4, 5, 6, 7].map((seed) => names(omniglot.mamlSplit({ trainCharacters: 6, seed }).test).join());
    expect(others.some((other) => other !== testNames.join())).toBe(true);

    const plain = omniglot.mamlSplit({ trainCharacters: 6, validationCharacters: 2, rotations: false, seed: 3 });
    expect(plain.train.classCount).toBe(4);
    expect(plain.validation!.classCount).toBe(2);
    expect(names(plain.test)).toEqual(testNames);
    expect(new Set([...names(plain.train), ...names(plain.validation!), ...testNames]).size).toBe(10);
    expect(() => omniglot.mamlSplit({ trainCharacters: 10 })).toThrow(/trainCharacters/);
  });
});

describe("loadOmniglot errors", () => {
  let temp: { path: string; cleanup: () => Promise<void> };
  beforeAll(async () => {
    temp = await makeTempDir();
  });
  afterAll(() => temp.cleanup());

  it("names the missing folder", async () => {
    const missing = join(temp.path, "absent");
    await expect(loadOmniglot(missing, { cacheDir: false })).rejects.toThrow(`${missing}: folder not found`);
    const bare = join(temp.path, "bare");
    await writeOmniglotTree(bare, { other: { Alpha: 1 } }, 2);
    const error = await loadOmniglot(bare, { cacheDir: false }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConcordError);
    expect((error as ConcordError).field).toBe(join(bare, "images_background"));
  });

  it("loads a tree with only the background set and names the absent evaluation folder", async () => {
    const dir = join(temp.path, "half");
    await writeOmniglotTree(dir, { images_background: { Alpha: 2 } }, 2);
    const half = await loadOmniglot(dir, { size: [8, 8], cacheDir: false, progress: false });
    expect(half.split("background").classCount).toBe(2);
    expect(() => half.split("evaluation")).toThrow(`${join(dir, "images_evaluation")}: folder not found`);
  });

  it("rejects character folders outside <Alphabet>/<character>", async () => {
    const dir = join(temp.path, "flat");
    await writeBinaryPng(join(dir, "images_background", "character01", "0001_01.png"), 8, 8, () => false);
    await expect(loadOmniglot(dir, { cacheDir: false, progress: false })).rejects.toThrow(/Alphabet/);
    await rm(dir, { recursive: true });
  });
});
