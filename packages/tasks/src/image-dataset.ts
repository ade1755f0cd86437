import { ConcordError, expect, expectInteger } from "@concord/core";

/** [height, width, channels] of every image of a dataset (images are row-major HWC). */
export type ImageShape = readonly [height: number, width: number, channels: number];

/**
 * A labelled image collection: classes 0..classCount−1, class c holding imageCount(c) images,
 * all of shape `imageShape`. Platform-neutral; the Node loaders in `@concord/tasks/node` build one.
 *
 * `copyImage` is the only way pixels leave a dataset, so an episode is a gather of h·w·c floats per
 * image into one Float32Array, and views (class subsets, rotations) cost no memory.
 */
export interface ImageDataset {
  readonly classCount: number;
  readonly imageShape: ImageShape;
  /** Number of images of class `classIndex`. */
  imageCount(classIndex: number): number;
  /** A human-readable, unique name of the class (for Omniglot `Alphabet/characterNN`). */
  className(classIndex: number): string;
  /** Writes image `imageIndex` of class `classIndex` (h·w·c float32, HWC order) into `target` at `offset`. */
  copyImage(classIndex: number, imageIndex: number, target: Float32Array, offset: number): void;
}

export interface PackedImagesInput {
  /**
   * Every image, class after class, each h·w·c values in HWC order. A Uint8Array is read as v / 255
   * (how the loaders store decoded images: 8-bit, like the resized PNGs MAML trains on); a
   * Float32Array is read as is.
   */
  readonly pixels: Float32Array | Uint8Array;
  readonly imageShape: ImageShape;
  /** Images per class, in storage order; they must add up to pixels.length / (h·w·c). */
  readonly classSizes: readonly number[];
  /** One name per class; defaults to `class<i>`. */
  readonly classNames?: readonly string[];
}

const UINT8_TO_UNIT = Float32Array.from({ length: 256 }, (_, v) => v / 255);

/** An ImageDataset over one packed pixel block (no copy is made of `pixels`). */
export function packedImageDataset(input: PackedImagesInput): ImageDataset {
  const { pixels, classSizes } = input;
  const imageShape = checkImageShape(input.imageShape, "imageShape");
  const imageSize = imageShape[0] * imageShape[1] * imageShape[2];
  expect(classSizes.length > 0, "classSizes", "expected at least one class");
  const classStarts = new Array<number>(classSizes.length);
  let imageTotal = 0;
  classSizes.forEach((size, c) => {
    expectInteger(size, `classSizes[${c}]`, 1);
    classStarts[c] = imageTotal;
    imageTotal += size;
  });
  expect(
    pixels.length === imageTotal * imageSize,
    "pixels",
    `expected ${imageTotal} images × ${imageSize} values = ${imageTotal * imageSize}, got ${pixels.length}`,
  );
  const names = input.classNames;
  if (names !== undefined) {
    expect(names.length === classSizes.length, "classNames", `expected ${classSizes.length} names, got ${names.length}`);
  }
  const isUint8 = pixels instanceof Uint8Array;

  return {
    classCount: classSizes.length,
    imageShape,
    imageCount: (classIndex) => classSizes[checkClass(classIndex, classSizes.length)]!,
    className: (classIndex) => names?.[checkClass(classIndex, classSizes.length)] ?? `class${classIndex}`,
    copyImage(classIndex, imageIndex, target, offset) {
      const c = checkClass(classIndex, classSizes.length);
      checkImage(imageIndex, classSizes[c]!);
      const start = (classStarts[c]! + imageIndex) * imageSize;
      if (isUint8) {
        for (let k = 0; k < imageSize; k++) target[offset + k] = UINT8_TO_UNIT[pixels[start + k]!]!;
      } else {
        target.set(pixels.subarray(start, start + imageSize), offset);
      }
    },
  };
}

/** A view holding only the listed classes of `dataset`, renumbered 0..n−1 in the given order. */
export function selectClasses(dataset: ImageDataset, classIndices: readonly number[]): ImageDataset {
  expect(classIndices.length > 0, "classIndices", "expected at least one class");
  const picked = classIndices.map((c, i) => {
    expectInteger(c, `classIndices[${i}]`, 0, dataset.classCount - 1);
    return c;
  });
  return {
    classCount: picked.length,
    imageShape: dataset.imageShape,
    imageCount: (classIndex) => dataset.imageCount(picked[checkClass(classIndex, picked.length)]!),
    className: (classIndex) => dataset.className(picked[checkClass(classIndex, picked.length)]!),
    copyImage: (classIndex, imageIndex, target, offset) => dataset.copyImage(picked[checkClass(classIndex, picked.length)]!, imageIndex, target, offset),
  };
}

/** Counter-clockwise quarter turns: 0, 90, 180 and 270 degrees. */
export type QuarterTurns = 0 | 1 | 2 | 3;

/**
 * Every class of `dataset` once per rotation, each rotation a class of its own (the Omniglot
 * augmentation of Santoro et al. 2016 and MAML: 4 × the characters). Class `b·R + r` is base class
 * b rotated counter-clockwise by quarterTurns[r]·90° (np.rot90 convention), named `<base>/rot<deg>`
 * (rotation 0 keeps the base name). Pixels are rotated on the fly by copyImage.
 */
export function withRotations(dataset: ImageDataset, quarterTurns: readonly QuarterTurns[] = [0, 1, 2, 3]): ImageDataset {
  expect(quarterTurns.length > 0, "quarterTurns", "expected at least one rotation");
  quarterTurns.forEach((t, i) => expect(t === 0 || t === 1 || t === 2 || t === 3, `quarterTurns[${i}]`, `expected 0, 1, 2 or 3, got ${JSON.stringify(t)}`));
  expect(new Set(quarterTurns).size === quarterTurns.length, "quarterTurns", "rotations must be distinct");
  const [height, width, channels] = dataset.imageShape;
  expect(height === width || quarterTurns.every((t) => t % 2 === 0), "quarterTurns", `90° and 270° rotations need square images, got ${height}×${width}`);
  const rotationCount = quarterTurns.length;
  const classCount = dataset.classCount * rotationCount;
  const imageSize = height * width * channels;
  const scratch = new Float32Array(imageSize);
  const base = (classIndex: number): number => Math.floor(checkClass(classIndex, classCount) / rotationCount);
  const turnsOf = (classIndex: number): QuarterTurns => quarterTurns[classIndex % rotationCount]!;

  return {
    classCount,
    imageShape: dataset.imageShape,
    imageCount: (classIndex) => dataset.imageCount(base(classIndex)),
    className(classIndex) {
      const name = dataset.className(base(classIndex));
      const turns = turnsOf(classIndex);
      return turns === 0 ? name : `${name}/rot${turns * 90}`;
    },
    copyImage(classIndex, imageIndex, target, offset) {
      const turns = turnsOf(classIndex);
      if (turns === 0) return dataset.copyImage(base(classIndex), imageIndex, target, offset);
      dataset.copyImage(base(classIndex), imageIndex, scratch, 0);
      rotateInto(scratch, height, width, channels, turns, target, offset);
    },
  };
}

/** Copies image `imageIndex` of class `classIndex` into a new Float32Array. */
export function readImage(dataset: ImageDataset, classIndex: number, imageIndex: number): Float32Array {
  const [h, w, c] = dataset.imageShape;
  const out = new Float32Array(h * w * c);
  dataset.copyImage(classIndex, imageIndex, out, 0);
  return out;
}

/** out[i][j] = in[j][n−1−i] for one counter-clockwise quarter turn (and its powers). */
function rotateInto(source: Float32Array, height: number, width: number, channels: number, turns: QuarterTurns, target: Float32Array, offset: number): void {
  const outWidth = turns === 2 ? width : height;
  const outHeight = turns === 2 ? height : width;
  for (let i = 0; i < outHeight; i++) {
    for (let j = 0; j < outWidth; j++) {
      let si: number;
      let sj: number;
      if (turns === 1) [si, sj] = [j, width - 1 - i];
      else if (turns === 2) [si, sj] = [height - 1 - i, width - 1 - j];
      else [si, sj] = [height - 1 - j, i];
      const from = (si * width + sj) * channels;
      const to = offset + (i * outWidth + j) * channels;
      for (let k = 0; k < channels; k++) target[to + k] = source[from + k]!;
    }
  }
}

function checkImageShape(shape: ImageShape, field: string): ImageShape {
  expect(Array.isArray(shape) && shape.length === 3, field, `expected [height, width, channels], got ${JSON.stringify(shape)}`);
  shape.forEach((n, i) => expectInteger(n, `${field}[${i}]`, 1));
  return [shape[0], shape[1], shape[2]];
}

function checkClass(classIndex: number, classCount: number): number {
  if (!Number.isInteger(classIndex) || classIndex < 0 || classIndex >= classCount) {
    throw new ConcordError(`expected an integer in [0, ${classCount - 1}], got ${classIndex}`, { field: "classIndex" });
  }
  return classIndex;
}

function checkImage(imageIndex: number, imageCount: number): void {
  if (!Number.isInteger(imageIndex) || imageIndex < 0 || imageIndex >= imageCount) {
    throw new ConcordError(`expected an integer in [0, ${imageCount - 1}], got ${imageIndex}`, { field: "imageIndex" });
  }
}
