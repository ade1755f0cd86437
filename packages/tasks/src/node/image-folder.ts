import { expect } from "@concord/core";
import { packedImageDataset, type ImageDataset } from "../image-dataset.js";
import { loadPacked, type CacheOptions } from "./load-packed.js";
import { scanClassFolders } from "./scan-folders.js";

export interface ImageFolderOptions extends CacheOptions {
  /** [height, width] every image is resized to (area resampling). Default: the first image's size. */
  readonly size?: readonly [number, number];
  /** 1 (grey, ITU-R 601 luma) or 3 (RGB). Default 3. */
  readonly channels?: 1 | 3;
  /** Store 1 − v (dark strokes on white become 1 on 0). Default false. */
  readonly invert?: boolean;
}

export interface LoadedImageFolder {
  /** One class per leaf folder, named by its path below `dir` ("a/b"), in code-point order. */
  readonly dataset: ImageDataset;
  readonly fromCache: boolean;
  readonly cacheFile: string | undefined;
}

/**
 * Loads any tree whose leaf folders are classes of .png/.jpg/.jpeg images (see `scanClassFolders`
 * for the rules and errors) into an ImageDataset of values in [0, 1], stored as 8 bits.
 * Decoded once, then read from a packed cache file keyed by the source files (see `sourceKey`).
 *
 *     const { dataset } = await loadImageFolder("data/mini-imagenet/train", { size: [84, 84], channels: 3 });
 */
export async function loadImageFolder(dir: string, options: ImageFolderOptions = {}): Promise<LoadedImageFolder> {
  const channels = options.channels ?? 3;
  expect(channels === 1 || channels === 3, "channels", `expected 1 or 3, got ${JSON.stringify(channels)}`);
  if (options.size !== undefined) {
    expect(Array.isArray(options.size) && options.size.length === 2, "size", `expected [height, width], got ${JSON.stringify(options.size)}`);
  }
  const classes = await scanClassFolders(dir);
  const loaded = await loadPacked(
    dir,
    "image-folder",
    classes,
    { size: options.size, channels, invert: options.invert ?? false },
    { cacheDir: options.cacheDir, progress: options.progress, label: `concord: decoding ${dir}` },
  );
  return { dataset: packedImageDataset(loaded.images), fromCache: loaded.fromCache, cacheFile: loaded.cacheFile };
}
