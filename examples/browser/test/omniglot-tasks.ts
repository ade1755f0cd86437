/** Fixed N-way K-shot tasks from Omniglot's held-out characters, with the PNG file of every image. */
import { existsSync, readdirSync } from "node:fs";
import { join, resolve } from "node:path";
import { createRng } from "@concord/core";
import type { ImageDataset } from "@concord/tasks";
import { loadOmniglot } from "@concord/tasks/node";
import { APP_DIR } from "./serve.js";

export interface TaskImage {
  readonly classIndex: number;
  readonly imageIndex: number;
  readonly png: string;
}

export interface FixedTask {
  /** support[c] holds the K drawings of class c; query[c] is one more drawing of class c. */
  readonly support: readonly (readonly TaskImage[])[];
  readonly query: readonly TaskImage[];
}

/** CONCORD_OMNIGLOT_DIR, else ../shared/data/omniglot beside the repository. */
export function findOmniglotDir(): string | undefined {
  const candidates = [process.env.CONCORD_OMNIGLOT_DIR, resolve(APP_DIR, "../../../shared/data/omniglot")];
  return candidates.find((dir): dir is string => dir !== undefined && existsSync(join(dir, "images_evaluation")) && existsSync(join(dir, "images_background")));
}

/**
 * Tasks from the characters the model never saw: the test side of the MAML split (the training config's
 * evaluation sampler, split "test"), drawn with a fixed seed. `test` is that dataset, indexed as the
 * training pipeline indexes it.
 */
export async function fixedTasks(dir: string, { count = 20, ways = 5, shots = 1, seed = 2026 } = {}): Promise<{ test: ImageDataset; tasks: FixedTask[] }> {
  const omniglot = await loadOmniglot(dir);
  const test = omniglot.mamlSplit().test;
  const rng = createRng(seed);
  const pngOf = (classIndex: number, imageIndex: number) => {
    const name = test.className(classIndex);
    const folder = ["images_background", "images_evaluation"].map((set) => join(dir, set, name)).find((path) => existsSync(path))!;
    // The loader sorts files by code point; so do we, so imageIndex names the same drawing.
    const files = readdirSync(folder)
      .filter((file) => file.endsWith(".png"))
      .sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    return join(folder, files[imageIndex]!);
  };
  const tasks: FixedTask[] = [];
  for (let t = 0; t < count; t++) {
    const classes = rng.shuffle(Array.from({ length: test.classCount }, (_, c) => c)).slice(0, ways);
    const picks = classes.map((classIndex) => ({ classIndex, images: rng.shuffle(Array.from({ length: test.imageCount(classIndex) }, (_, i) => i)).slice(0, shots + 1) }));
    const image = (classIndex: number, imageIndex: number) => ({ classIndex, imageIndex, png: pngOf(classIndex, imageIndex) });
    tasks.push({
      support: picks.map(({ classIndex, images }) => images.slice(0, shots).map((imageIndex) => image(classIndex, imageIndex))),
      query: picks.map(({ classIndex, images }) => image(classIndex, images[shots]!)),
    });
  }
  return { test, tasks };
}
