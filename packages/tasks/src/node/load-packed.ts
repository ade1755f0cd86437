import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { expectInteger } from "@concord/core";
import { cacheFileName, defaultCacheDir, readCache, sourceKey, writeCache, type PackedImages } from "./dataset-cache.js";
import { decodeImage } from "./decode-image.js";
import { createProgress } from "./progress.js";
import { resizeArea } from "../resize.js";
import type { ClassFolder } from "./scan-folders.js";

/** Options every loader shares. */
export interface CacheOptions {
  /** Folder for the decoded-dataset cache; false disables it. Default: see `defaultCacheDir`. */
  readonly cacheDir?: string | false;
  /** Report decoding progress on stderr. Default true. */
  readonly progress?: boolean;
}

export interface DecodeOptions {
  /** [height, width] every image is resized to (area resampling); default: the first image's size. */
  readonly size?: readonly [number, number] | undefined;
  readonly channels: 1 | 3;
  /** Store 1 − v instead of v (Omniglot: strokes 1, background 0). */
  readonly invert: boolean;
}

export interface PackedLoad {
  readonly images: PackedImages;
  /** True when the images came from the cache file instead of being decoded. */
  readonly fromCache: boolean;
  /** The cache file read or written (undefined when caching is off or the write failed). */
  readonly cacheFile: string | undefined;
}

/**
 * Decodes every image of `classes` into one packed 8-bit block (round(255·v)), or reads the block
 * from the cache when the source files are unchanged (see `sourceKey`). A failed cache write is a
 * warning, not an error: the decoded data is still returned.
 */
export async function loadPacked(
  root: string,
  loader: string,
  classes: readonly ClassFolder[],
  decode: DecodeOptions,
  options: CacheOptions & { readonly label: string },
): Promise<PackedLoad> {
  if (decode.size !== undefined) {
    expectInteger(decode.size[0], "size[0]", 1);
    expectInteger(decode.size[1], "size[1]", 1);
  }
  const keyOptions = { size: decode.size ?? null, channels: decode.channels, invert: decode.invert };
  const files = classes.flatMap((folder) => folder.files);
  const key = sourceKey(root, loader, keyOptions, files);
  const cacheDir = options.cacheDir === undefined ? defaultCacheDir() : options.cacheDir;
  const names = cacheDir === false ? undefined : cacheFileName(root, loader, keyOptions, key);

  if (cacheDir !== false && names !== undefined) {
    const cached = await readCache(join(cacheDir, names.file), key);
    if (cached !== undefined) return { images: cached, fromCache: true, cacheFile: join(cacheDir, names.file) };
  }

  const images = await decodeAll(classes, decode, options.progress ?? true, options.label);
  let cacheFile: string | undefined;
  if (cacheDir !== false && names !== undefined) {
    try {
      cacheFile = await writeCache(cacheDir, names, key, images);
    } catch (error) {
      process.emitWarning(`could not write the dataset cache in ${cacheDir}: ${error instanceof Error ? error.message : String(error)}`);
    }
  }
  return { images, fromCache: false, cacheFile };
}

async function decodeAll(classes: readonly ClassFolder[], decode: DecodeOptions, showProgress: boolean, label: string): Promise<PackedImages> {
  const total = classes.reduce((sum, folder) => sum + folder.files.length, 0);
  const progress = createProgress(label, total, showProgress);
  let size = decode.size;
  let pixels: Uint8Array | undefined;
  let imageSize = 0;
  let written = 0;
  let completed = false;
  try {
    for (const folder of classes) {
      // One class's files are read concurrently; decoding is synchronous CPU work.
      const contents = await Promise.all(folder.files.map((file) => readFile(file.path)));
      contents.forEach((bytes, k) => {
        const image = decodeImage(bytes, folder.files[k]!.path, decode.channels);
        if (size === undefined) size = [image.height, image.width];
        if (pixels === undefined) {
          imageSize = size[0] * size[1] * decode.channels;
          pixels = new Uint8Array(total * imageSize);
        }
        const resized = resizeArea(image.pixels, [image.height, image.width, decode.channels], size);
        for (let i = 0; i < imageSize; i++) {
          const value = decode.invert ? 1 - resized[i]! : resized[i]!;
          pixels[written + i] = Math.round(255 * Math.min(1, Math.max(0, value)));
        }
        written += imageSize;
      });
      progress.advance(folder.files.length);
    }
    completed = true;
  } finally {
    progress.finish(completed);
  }
  return {
    imageShape: [size![0], size![1], decode.channels],
    classNames: classes.map((folder) => folder.name),
    classSizes: classes.map((folder) => folder.files.length),
    pixels: pixels!,
  };
}
