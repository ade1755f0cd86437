import { mkdir, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { ConcordError } from "@concord/core";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { readImage } from "../image-dataset.js";
import { loadImageFolder } from "./image-folder.js";
import { makeTempDir, writePng } from "./testing/fixtures.js";

const f = Math.fround;

async function caught(promise: Promise<unknown>): Promise<ConcordError> {
  const error = await promise.then(
    () => undefined,
    (reason: unknown) => reason,
  );
  expect(error).toBeInstanceOf(ConcordError);
  return error as ConcordError;
}

describe("loadImageFolder", () => {
  let temp: { path: string; cleanup: () => Promise<void> };
  let root: string;
  let cacheDir: string;
  beforeEach(async () => {
    temp = await makeTempDir();
    root = join(temp.path, "data");
    cacheDir = join(temp.path, "cache");
  });
  afterEach(() => temp.cleanup());

  /** Two nested classes of 4×4 grey PNGs: image k of class c has every pixel = 10·c + k. */
  async function writeTwoClasses(): Promise<void> {
    for (const [c, name] of ["animals/cat", "animals/dog"].entries()) {
      for (let k = 0; k < 3; k++) await writePng(join(root, name, `${k}.png`), 4, 4, new Array(16).fill(10 * c + k));
    }
    await writeFile(join(root, "animals", "dog", "notes.txt"), "ignored");
  }

  it("finds the leaf folders as classes, in order, with the requested shape and values in [0, 1]", async () => {
    await writeTwoClasses();
    const { dataset, fromCache } = await loadImageFolder(root, { size: [2, 2], channels: 1, cacheDir: false, progress: false });
    expect(fromCache).toBe(false);
    expect(dataset.classCount).toBe(2);
    expect([dataset.className(0), dataset.className(1)]).toEqual(["animals/cat", "animals/dog"]);
    expect([dataset.imageCount(0), dataset.imageCount(1)]).toEqual([3, 3]);
    expect(dataset.imageShape).toEqual([2, 2, 1]);
    expect(Array.from(readImage(dataset, 1, 2))).toEqual(new Array(4).fill(f(12 / 255)));
    const rgb = await loadImageFolder(root, { cacheDir: false, progress: false });
    expect(rgb.dataset.imageShape).toEqual([4, 4, 3]); // defaults: first image's size, 3 channels
    for (let c = 0; c < 2; c++) {
      for (let i = 0; i < 3; i++) {
        for (const v of readImage(rgb.dataset, c, i)) expect(v >= 0 && v <= 1).toBe(true);
      }
    }
  });

  it("resizes by area: 4×4 → 2×2 gives the mean of each block", async () => {
    const image = [0, 0, 255, 255, 0, 0, 255, 255, 10, 20, 100, 200, 30, 40, 50, 50];
    await writePng(join(root, "only", "a.png"), 4, 4, image);
    const { dataset } = await loadImageFolder(root, { size: [2, 2], channels: 1, cacheDir: false, progress: false });
    expect(Array.from(readImage(dataset, 0, 0))).toEqual([0, 1, f(25 / 255), f(100 / 255)]);
    const inverted = await loadImageFolder(root, { size: [2, 2], channels: 1, invert: true, cacheDir: false, progress: false });
    expect(Array.from(readImage(inverted.dataset, 0, 0))).toEqual([1, 0, f(230 / 255), f(155 / 255)]);
  });

  it("names the corrupt PNG", async () => {
    await writeTwoClasses();
    const bad = join(root, "animals", "dog", "1.png");
    await writeFile(bad, (await readFile(bad)).subarray(0, 30));
    const error = await caught(loadImageFolder(root, { cacheDir: false, progress: false }));
    expect(error.field).toBe(bad);
    expect(error.message).toContain(bad);
  });

  it("names a missing folder, an empty class folder, images beside subfolders, and a tree without classes", async () => {
    const missing = join(temp.path, "nowhere");
    expect((await caught(loadImageFolder(missing, { cacheDir: false }))).message).toBe(`${missing}: folder not found`);

    await writeTwoClasses();
    const empty = join(root, "animals", "fish");
    await mkdir(empty);
    const emptyError = await caught(loadImageFolder(root, { cacheDir: false, progress: false }));
    expect(emptyError.field).toBe(empty);
    expect(emptyError.message).toContain("empty class folder");
    await rm(empty, { recursive: true });

    await writePng(join(root, "animals", "stray.png"), 4, 4, new Array(16).fill(0));
    expect((await caught(loadImageFolder(root, { cacheDir: false, progress: false }))).field).toBe(join(root, "animals"));

    const flat = join(temp.path, "flat");
    await writePng(join(flat, "a.png"), 4, 4, new Array(16).fill(0));
    expect((await caught(loadImageFolder(flat, { cacheDir: false }))).message).toContain("no class folders found");
  });

  it("writes one cache file, reads it back unchanged, and rebuilds it when a source file changes", async () => {
    await writeTwoClasses();
    const options = { size: [2, 2] as const, channels: 1 as const, cacheDir, progress: false };
    const first = await loadImageFolder(root, options);
    expect(first.fromCache).toBe(false);
    expect(first.cacheFile).toBeDefined();
    expect(await readdir(cacheDir)).toEqual([first.cacheFile!.slice(cacheDir.length + 1)]);

    const second = await loadImageFolder(root, options);
    expect(second.fromCache).toBe(true);
    expect(second.cacheFile).toBe(first.cacheFile);
    expect(second.dataset.className(1)).toBe("animals/dog");
    for (let c = 0; c < 2; c++) {
      for (let i = 0; i < 3; i++) expect(readImage(second.dataset, c, i)).toEqual(readImage(first.dataset, c, i));
    }

    await writePng(join(root, "animals", "dog", "2.png"), 4, 4, new Array(16).fill(200));
    const third = await loadImageFolder(root, options);
    expect(third.fromCache).toBe(false);
    expect(third.cacheFile).not.toBe(first.cacheFile);
    expect(readImage(third.dataset, 1, 2)[0]).toBe(f(200 / 255));
    expect(await readdir(cacheDir)).toEqual([third.cacheFile!.slice(cacheDir.length + 1)]); // the stale file is gone
    expect((await loadImageFolder(root, options)).fromCache).toBe(true);

    // A new image is a change too; other options get a cache file of their own.
    await writePng(join(root, "animals", "cat", "3.png"), 4, 4, new Array(16).fill(1));
    const grown = await loadImageFolder(root, options);
    expect(grown.fromCache).toBe(false);
    expect(grown.dataset.imageCount(0)).toBe(4);
    const rgb = await loadImageFolder(root, { ...options, channels: 3 });
    expect(rgb.fromCache).toBe(false);
    expect((await readdir(cacheDir)).length).toBe(2);
  });

  it("rebuilds a damaged cache file instead of trusting it", async () => {
    await writeTwoClasses();
    const options = { channels: 1 as const, cacheDir, progress: false };
    const first = await loadImageFolder(root, options);
    const bytes = await readFile(first.cacheFile!);
    await writeFile(first.cacheFile!, bytes.subarray(0, bytes.length - 1));
    const second = await loadImageFolder(root, options);
    expect(second.fromCache).toBe(false);
    expect(readImage(second.dataset, 1, 1)).toEqual(readImage(first.dataset, 1, 1));
    expect((await loadImageFolder(root, options)).fromCache).toBe(true);
  });

  it("rejects bad options", async () => {
    await writeTwoClasses();
    await expect(loadImageFolder(root, { channels: 2 as 1, cacheDir: false })).rejects.toThrow(/channels/);
    await expect(loadImageFolder(root, { size: [0, 2], cacheDir: false, progress: false })).rejects.toThrow(/size\[0\]/);
  });
});
