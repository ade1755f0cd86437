// Test-only: small image trees written by the tests themselves (never part of the build).
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { encode } from "fast-png";

/** A fresh temp folder; `cleanup` removes it. */
export async function makeTempDir(prefix = "concord-tasks-"): Promise<{ path: string; cleanup: () => Promise<void> }> {
  const path = await mkdtemp(join(tmpdir(), prefix));
  return { path, cleanup: () => rm(path, { recursive: true, force: true }) };
}

/** Writes an 8-bit PNG (channels 1 = grey, 3 = RGB, 4 = RGBA) from row-major interleaved bytes. */
export async function writePng(path: string, width: number, height: number, data: readonly number[] | Uint8Array, channels: 1 | 2 | 3 | 4 = 1): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  await writeFile(path, encode({ width, height, channels, depth: 8, data: Uint8Array.from(data) }));
}

/** Writes a 1-bit grey PNG, like Omniglot's: `ink(row, col)` true draws black (0), else white (1). */
export async function writeBinaryPng(path: string, width: number, height: number, ink: (row: number, col: number) => boolean): Promise<void> {
  const rowBytes = Math.ceil(width / 8);
  const packed = new Uint8Array(rowBytes * height);
  for (let r = 0; r < height; r++) {
    for (let c = 0; c < width; c++) {
      if (!ink(r, c)) packed[r * rowBytes + (c >> 3)]! |= 0x80 >> (c & 7);
    }
  }
  await mkdir(dirname(path), { recursive: true });
  await writeFile(path, encode({ width, height, channels: 1, depth: 1, data: packed }));
}

/**
 * An Omniglot-layout tree: `<root>/<set>/<Alphabet>/characterNN/<id>_<drawing>.png`, 8×8 1-bit
 * drawings. Drawing d of character k (counted over the whole tree from 1) inks the pixels of row
 * (k − 1) mod 8 plus pixel (7, d mod 8), so every character and drawing is told apart by its pixels.
 */
export async function writeOmniglotTree(root: string, sets: Record<string, Record<string, number>>, drawings: number): Promise<number> {
  let characterId = 0;
  for (const [set, alphabets] of Object.entries(sets)) {
    for (const [alphabet, characters] of Object.entries(alphabets)) {
      for (let k = 1; k <= characters; k++) {
        characterId++;
        const id = characterId;
        for (let d = 1; d <= drawings; d++) {
          const file = join(root, set, alphabet, `character${String(k).padStart(2, "0")}`, `${String(id).padStart(4, "0")}_${String(d).padStart(2, "0")}.png`);
          await writeBinaryPng(file, 8, 8, (row, col) => row === (id - 1) % 8 || (row === 7 && col === d % 8));
        }
      }
    }
  }
  return characterId;
}
