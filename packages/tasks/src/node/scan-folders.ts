import { readdir, stat } from "node:fs/promises";
import { extname, join, relative, sep } from "node:path";
import { ConcordError } from "@concord/core";
import { IMAGE_EXTENSIONS } from "./decode-image.js";

/** One image file with what the cache key needs to notice a change. */
export interface SourceFile {
  readonly path: string;
  readonly size: number;
  readonly mtimeMs: number;
}

/** A leaf folder of images: one class. `name` is its path below the scanned root, with "/". */
export interface ClassFolder {
  readonly name: string;
  readonly path: string;
  readonly files: readonly SourceFile[];
}

/**
 * Lists the classes of an image tree: every folder without subfolders is a class whose images are
 * its .png/.jpg/.jpeg files (other files, names starting with "." and images lying directly in
 * `root` are ignored). Folders and files are sorted by code point, so class order does not depend
 * on the file system or locale.
 * ConcordErrors: `root` missing or not a folder; a class folder with no image (an empty class
 * would silently shrink the dataset); images beside subfolders (they would belong to no class);
 * no class folder at all.
 */
export async function scanClassFolders(root: string): Promise<ClassFolder[]> {
  await expectFolder(root);
  const classes: ClassFolder[] = [];
  await walk(root, root, classes);
  if (classes.length === 0) {
    throw new ConcordError("no class folders found (expected <class>/<image>.png|.jpg|.jpeg below it)", { field: root });
  }
  return classes;
}

/** Throws a ConcordError naming `path` unless it is an existing folder. */
export async function expectFolder(path: string): Promise<void> {
  const info = await stat(path).catch(() => undefined);
  if (info === undefined) throw new ConcordError("folder not found", { field: path });
  if (!info.isDirectory()) throw new ConcordError("expected a folder, found a file", { field: path });
}

async function walk(root: string, folder: string, classes: ClassFolder[]): Promise<void> {
  const entries = (await readdir(folder, { withFileTypes: true }))
    .filter((entry) => !entry.name.startsWith("."))
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const subfolders = entries.filter((entry) => entry.isDirectory());
  const images = entries.filter((entry) => entry.isFile() && isImageName(entry.name));
  const name = relative(root, folder).split(sep).join("/");

  if (subfolders.length > 0) {
    if (images.length > 0 && folder !== root) {
      throw new ConcordError(`holds images (${images[0]!.name}, ...) beside subfolders; only folders without subfolders are classes`, { field: folder });
    }
    for (const subfolder of subfolders) await walk(root, join(folder, subfolder.name), classes);
    return;
  }
  if (folder === root) return; // a flat folder of images has no classes
  if (images.length === 0) {
    throw new ConcordError(`empty class folder: no ${IMAGE_EXTENSIONS.join("/")} images in it`, { field: folder });
  }
  const files = await Promise.all(
    images.map(async (entry) => {
      const path = join(folder, entry.name);
      const info = await stat(path);
      return { path, size: info.size, mtimeMs: info.mtimeMs };
    }),
  );
  classes.push({ name, path: folder, files });
}

function isImageName(name: string): boolean {
  return (IMAGE_EXTENSIONS as readonly string[]).includes(extname(name).toLowerCase());
}
