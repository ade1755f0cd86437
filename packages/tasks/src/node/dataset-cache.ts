import { createHash, randomBytes } from "node:crypto";
import { mkdir, open, readdir, readFile, rename, rm } from "node:fs/promises";
import { homedir, tmpdir } from "node:os";
import { basename, join, relative, resolve } from "node:path";
import type { ImageShape } from "../image-dataset.js";
import type { SourceFile } from "./scan-folders.js";

/** Decoded images as the loaders keep them: 8-bit, class after class, HWC. */
export interface PackedImages {
  readonly imageShape: ImageShape;
  readonly classNames: readonly string[];
  readonly classSizes: readonly number[];
  readonly pixels: Uint8Array;
}

/**
 * Bumped whenever decoding, resizing or the file layout changes, so old caches are never read.
 * The file: 8-byte magic, uint32 LE header length, UTF-8 JSON header, then the pixel bytes.
 */
const FORMAT_VERSION = 1;
const MAGIC = Buffer.from("CCIMG\0\0\x01", "latin1");

/**
 * The cache key: SHA-256 over the format version, the loader and its options, and every source
 * file's path (relative to `root`), size in bytes and modification time (ms). Listing and stat-ing
 * is cheap next to decoding, and any edit, addition, removal or rename of an image changes the key
 * (as in make or tsc's incremental builds); an edit that keeps both size and mtime is not seen.
 */
export function sourceKey(root: string, loader: string, options: unknown, files: readonly SourceFile[]): string {
  const hash = createHash("sha256");
  hash.update(JSON.stringify({ version: FORMAT_VERSION, loader, options }));
  for (const file of files) {
    hash.update(`\n${relative(root, file.path)}\t${file.size}\t${file.mtimeMs}`);
  }
  return hash.digest("hex");
}

/** `$XDG_CACHE_HOME/concord`, else `~/.cache/concord`, else `<os tmpdir>/concord`. */
export function defaultCacheDir(): string {
  const xdg = process.env.XDG_CACHE_HOME;
  if (xdg) return join(xdg, "concord");
  try {
    return join(homedir(), ".cache", "concord");
  } catch {
    return join(tmpdir(), "concord");
  }
}

/**
 * `<loader>-<folder name>-<hash of absolute folder and options>-<key>.bin`: one family of files per
 * (source folder, options), so a rebuild can delete the stale member of its own family only.
 */
export function cacheFileName(root: string, loader: string, options: unknown, key: string): { file: string; family: string } {
  const slug = basename(resolve(root))
    .replace(/[^A-Za-z0-9_-]+/g, "_")
    .slice(0, 40);
  const where = createHash("sha256")
    .update(JSON.stringify([resolve(root), options]))
    .digest("hex")
    .slice(0, 10);
  const family = `${loader}-${slug}-${where}-`;
  return { file: `${family}${key.slice(0, 24)}.bin`, family };
}

/** The cached images, or undefined when the file is absent, for another key, or damaged. */
export async function readCache(file: string, key: string): Promise<PackedImages | undefined> {
  const bytes = await readFile(file).catch(() => undefined);
  if (bytes === undefined || bytes.length < MAGIC.length + 4 || !bytes.subarray(0, MAGIC.length).equals(MAGIC)) return undefined;
  const headerLength = bytes.readUInt32LE(MAGIC.length);
  const pixelStart = MAGIC.length + 4 + headerLength;
  if (pixelStart > bytes.length) return undefined;
  let header: { key?: unknown; imageShape?: unknown; classNames?: unknown; classSizes?: unknown };
  try {
    header = JSON.parse(bytes.toString("utf8", MAGIC.length + 4, pixelStart));
  } catch {
    return undefined;
  }
  const { imageShape, classNames, classSizes } = header;
  if (header.key !== key || !isCounts(imageShape) || imageShape.length !== 3 || !isCounts(classSizes)) return undefined;
  if (!Array.isArray(classNames) || classNames.length !== classSizes.length) return undefined;
  const imageCount = classSizes.reduce((sum, n) => sum + n, 0);
  if (bytes.length - pixelStart !== imageCount * imageShape[0]! * imageShape[1]! * imageShape[2]!) return undefined;
  return {
    imageShape: [imageShape[0]!, imageShape[1]!, imageShape[2]!],
    classNames: classNames.map(String),
    classSizes,
    pixels: new Uint8Array(bytes.buffer, bytes.byteOffset + pixelStart, bytes.length - pixelStart),
  };
}

/**
 * Writes the cache atomically (a temp file in the same folder, flushed, then renamed over the
 * target), so a crash or a concurrent reader never sees half a file; then deletes stale files of
 * the same family (the same folder and options before the source changed).
 */
export async function writeCache(cacheDir: string, names: { file: string; family: string }, key: string, images: PackedImages): Promise<string> {
  await mkdir(cacheDir, { recursive: true });
  const target = join(cacheDir, names.file);
  const temporary = `${target}.${process.pid}-${randomBytes(4).toString("hex")}.tmp`;
  const header = Buffer.from(JSON.stringify({ key, imageShape: images.imageShape, classNames: images.classNames, classSizes: images.classSizes }), "utf8");
  const length = Buffer.alloc(4);
  length.writeUInt32LE(header.length);
  const handle = await open(temporary, "w");
  try {
    const { bytesWritten } = await handle.writev([MAGIC, length, header, images.pixels]);
    if (bytesWritten !== MAGIC.length + 4 + header.length + images.pixels.length) throw new Error(`short write to ${temporary}`);
    await handle.sync();
  } catch (error) {
    await handle.close();
    await rm(temporary, { force: true });
    throw error;
  }
  await handle.close();
  await rename(temporary, target);
  for (const name of await readdir(cacheDir)) {
    if (name.startsWith(names.family) && name.endsWith(".bin") && name !== names.file) {
      await rm(join(cacheDir, name), { force: true });
    }
  }
  return target;
}

function isCounts(value: unknown): value is number[] {
  return Array.isArray(value) && value.every((n) => Number.isInteger(n) && n >= 0);
}
