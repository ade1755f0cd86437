import { stat } from "node:fs/promises";
import { join } from "node:path";
import { ConcordError, createRng, expect, expectInteger } from "@concord/core";
import { packedImageDataset, selectClasses, withRotations, type ImageDataset } from "../image-dataset.js";
import { loadPacked, type CacheOptions } from "./load-packed.js";
import { expectFolder, scanClassFolders, type ClassFolder } from "./scan-folders.js";

export const OMNIGLOT_SETS = ["images_background", "images_evaluation"] as const;

export interface OmniglotOptions extends CacheOptions {
  /** [height, width] the 105×105 drawings are resized to (area resampling). Default [28, 28], as MAML. */
  readonly size?: readonly [number, number];
}

export interface MamlSplitOptions {
  /** Seed of the shuffle of all characters. Default 1 (MAML's `random.seed(1)`). */
  readonly seed?: number;
  /** Characters for meta-training (validation included). Default 1200. */
  readonly trainCharacters?: number;
  /** Characters of the 1200 held out for validation. Default 0 (MAML's own code uses 100). */
  readonly validationCharacters?: number;
  /** Add 90°, 180° and 270° rotations of the training characters as new classes. Default true. */
  readonly rotations?: boolean;
}

export interface MamlSplit {
  readonly train: ImageDataset;
  /** Present when validationCharacters > 0. Never rotated. */
  readonly validation?: ImageDataset;
  /** Every character not in train or validation. Never rotated. */
  readonly test: ImageDataset;
}

export interface Omniglot {
  /** Every character, one class each: the background set's, then the evaluation set's, each sorted. */
  readonly characters: ImageDataset;
  /** Alphabet of a class of `characters`. */
  alphabetOf(classIndex: number): string;
  /** Characters per set folder present ("images_background": 964, "images_evaluation": 659). */
  readonly setSizes: Readonly<Partial<Record<(typeof OMNIGLOT_SETS)[number], number>>>;
  /** Lake et al.'s original split: "background" (30 alphabets, 964 characters) or "evaluation" (20, 659). */
  split(name: "background" | "evaluation"): ImageDataset;
  /** MAML's protocol: a seeded shuffle of all characters, the first 1200 for training, the rest for test. */
  mamlSplit(options?: MamlSplitOptions): MamlSplit;
  readonly fromCache: boolean;
  readonly cacheFile: string | undefined;
}

/**
 * Loads Omniglot in its original layout, `<dir>/images_{background,evaluation}/<Alphabet>/characterNN/*.png`
 * (105×105 1-bit PNGs, white background), as 1-channel images in [0, 1] with strokes 1 and
 * background 0: each drawing is inverted, as MAML's data loader does (`1 − x/255`), after an area
 * resize to `size`. Both sets are decoded once into one cache file; either set folder may be absent
 * (not both). Class names are `Alphabet/characterNN`.
 *
 * Splits: `split("background" | "evaluation")` is the original one (an alphabet is wholly on one
 * side); `mamlSplit()` is MAML's (Finn et al. 2017, after Santoro et al. 2016): characters of every
 * alphabet shuffled with a fixed seed, 1200 for training (rotations as extra classes), the other 423
 * for test. Our shuffle is Concord's seeded RNG, so the characters differ from MAML's Python
 * `random.shuffle`, but the protocol and its sizes are the same.
 */
export async function loadOmniglot(dir: string, options: OmniglotOptions = {}): Promise<Omniglot> {
  const size = options.size ?? [28, 28];
  expect(Array.isArray(size) && size.length === 2, "size", `expected [height, width], got ${JSON.stringify(size)}`);
  await expectFolder(dir);
  const present = await Promise.all(OMNIGLOT_SETS.map(async (set) => (await stat(join(dir, set)).catch(() => undefined))?.isDirectory() === true));
  if (!present.some(Boolean)) {
    throw new ConcordError(`folder not found (expected Omniglot's ${OMNIGLOT_SETS.join(" and/or ")} in ${dir})`, {
      field: join(dir, OMNIGLOT_SETS[0]),
    });
  }

  const classes: ClassFolder[] = [];
  const setSizes: Partial<Record<(typeof OMNIGLOT_SETS)[number], number>> = {};
  for (const [s, set] of OMNIGLOT_SETS.entries()) {
    if (!present[s]) continue;
    const folders = await scanClassFolders(join(dir, set));
    for (const folder of folders) {
      if (folder.name.split("/").length !== 2) {
        throw new ConcordError("expected <Alphabet>/<character>/<drawing>.png folders (Omniglot's original layout)", { field: folder.path });
      }
    }
    classes.push(...folders);
    setSizes[set] = folders.length;
  }

  const loaded = await loadPacked(
    dir,
    "omniglot",
    classes,
    { size, channels: 1, invert: true },
    { cacheDir: options.cacheDir, progress: options.progress, label: "concord: decoding Omniglot" },
  );
  const characters = packedImageDataset(loaded.images);
  const backgroundCount = setSizes.images_background ?? 0;
  const indices = (from: number, count: number) => Array.from({ length: count }, (_, i) => from + i);

  return {
    characters,
    alphabetOf: (classIndex) => characters.className(classIndex).split("/")[0]!,
    setSizes,
    split(name) {
      expect(name === "background" || name === "evaluation", "split", `expected "background" or "evaluation", got ${JSON.stringify(name)}`);
      const count = setSizes[`images_${name}`];
      if (count === undefined) throw new ConcordError("folder not found", { field: join(dir, `images_${name}`) });
      return selectClasses(characters, indices(name === "background" ? 0 : backgroundCount, count));
    },
    mamlSplit(splitOptions = {}) {
      const { seed = 1, trainCharacters = 1200, validationCharacters = 0, rotations = true } = splitOptions;
      expectInteger(trainCharacters, "trainCharacters", 1, characters.classCount - 1);
      expectInteger(validationCharacters, "validationCharacters", 0, trainCharacters - 1);
      const order = createRng(seed).shuffle(indices(0, characters.classCount));
      const trainEnd = trainCharacters - validationCharacters;
      const train = selectClasses(characters, order.slice(0, trainEnd));
      return {
        train: rotations ? withRotations(train) : train,
        ...(validationCharacters > 0 ? { validation: selectClasses(characters, order.slice(trainEnd, trainCharacters)) } : {}),
        test: selectClasses(characters, order.slice(trainCharacters)),
      };
    },
    fromCache: loaded.fromCache,
    cacheFile: loaded.cacheFile,
  };
}
