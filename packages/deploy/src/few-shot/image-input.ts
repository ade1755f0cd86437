// Any picture an app holds → one model input [h, w, c], made exactly as the export's task family
// made its training inputs (the export's `preprocessing`).
import * as tf from "@tensorflow/tfjs-core";
import { ConcordError, expect } from "@concord/core";
import { resizeArea } from "@concord/tasks";
import type { Preprocessing } from "../format.js";

/** RGBA pixels, row-major, 4 bytes per pixel: an ImageData, or the same shape from anywhere else. */
export interface RgbaImage {
  readonly data: ArrayLike<number>;
  readonly width: number;
  readonly height: number;
}

/**
 * What addExample / predict accept: RGBA pixels ({ data, width, height }, e.g. ImageData) of any size;
 * in a page also a canvas (HTMLCanvasElement, OffscreenCanvas), an HTMLImageElement, an
 * HTMLVideoElement, an ImageBitmap or a VideoFrame (drawn onto a canvas of their own size); or a
 * float32 tensor that already is a model input ([h, w, c] or [1, h, w, c]). Typed structurally so the
 * package needs no DOM types.
 */
export type ClassifierImage = RgbaImage | tf.Tensor | DrawableImage | CanvasLike;

/** Something a 2-D canvas context can draw (image, video, bitmap, video frame). */
export interface DrawableImage {
  readonly width?: number;
  readonly height?: number;
  readonly naturalWidth?: number;
  readonly naturalHeight?: number;
  readonly videoWidth?: number;
  readonly videoHeight?: number;
  readonly displayWidth?: number;
  readonly displayHeight?: number;
}

interface Context2d {
  getImageData(x: number, y: number, width: number, height: number): RgbaImage;
  drawImage(image: unknown, x: number, y: number): void;
}

/** A canvas: anything with width, height and a 2-D context. */
export interface CanvasLike {
  readonly width: number;
  readonly height: number;
  getContext(kind: "2d"): unknown;
}

/**
 * The model input [h, w, c] (float32) for `image`. With preprocessing "omniglot-drawing" (dark ink on
 * a light background, as a canvas drawing or Omniglot's PNGs): grey = alpha-composited luminance on
 * white, made 1-bit at ½ like Omniglot's PNGs, area-resized to the input size, inverted (ink 1),
 * quantised to 8 bits — the loader's own steps, so an Omniglot PNG gives its training pixels exactly.
 * With "none": area-resized to the input size, values in [0, 1] (luminance for 1 channel, RGB for 3).
 * `field` names the argument in errors.
 */
export function imageToInput(image: ClassifierImage, inputShape: readonly number[], preprocessing: Preprocessing, field = "image"): tf.Tensor3D {
  const [height, width, channels] = inputShape as [number, number, number];
  if (image instanceof tf.Tensor) {
    const shape = image.rank === 4 && image.shape[0] === 1 ? image.shape.slice(1) : image.shape;
    expect(
      shape.length === 3 && shape[0] === height && shape[1] === width && shape[2] === channels && image.dtype === "float32",
      field,
      `expected a float32 model input of shape [${height}, ${width}, ${channels}] (or [1, ${height}, ${width}, ${channels}]), got ${image.dtype} [${image.shape.join(", ")}]`,
    );
    return tf.reshape(image, [height, width, channels]);
  }
  const rgba = rgbaOf(image, field);
  const pixels = rgba.width * rgba.height;
  if (preprocessing.kind === "omniglot-drawing") {
    expect(channels === 1, field, `expected a one-channel model for omniglot-drawing preprocessing, got ${channels} channels`);
    const grey = new Float32Array(pixels);
    for (let n = 0; n < pixels; n++) grey[n] = luminanceOnWhite(rgba.data, n) >= 0.5 ? 1 : 0;
    const resized = resizeArea(grey, [rgba.height, rgba.width, 1], [height, width]);
    const input = new Float32Array(height * width);
    for (let i = 0; i < input.length; i++) input[i] = Math.round(255 * Math.min(1, Math.max(0, 1 - resized[i]!))) / 255;
    return tf.tensor3d(input, [height, width, 1], "float32");
  }
  expect(channels === 1 || channels === 3, field, `expected a model with 1 or 3 input channels to turn an image into its input, got ${channels}`);
  const values = new Float32Array(pixels * channels);
  for (let n = 0; n < pixels; n++) {
    if (channels === 1) values[n] = luminanceOnWhite(rgba.data, n);
    else for (let c = 0; c < 3; c++) values[n * 3 + c] = rgba.data[4 * n + c]! / 255;
  }
  return tf.tensor3d(resizeArea(values, [rgba.height, rgba.width, channels], [height, width]), [height, width, channels], "float32");
}

/** Grey value in [0, 1] (white 1) of pixel n: luminance (ITU-R 601 weights) composited on white by alpha. */
function luminanceOnWhite(data: ArrayLike<number>, n: number): number {
  const alpha = data[4 * n + 3]! / 255;
  const luminance = (0.299 * data[4 * n]! + 0.587 * data[4 * n + 1]! + 0.114 * data[4 * n + 2]!) / 255;
  return alpha * luminance + (1 - alpha);
}

/** RGBA pixels of any accepted image (drawn onto a canvas first when it is not pixels already). */
export function rgbaOf(image: unknown, field = "image"): RgbaImage {
  if (isRgba(image)) {
    expect(
      image.data.length === 4 * image.width * image.height,
      field,
      `expected ${4 * image.width * image.height} RGBA bytes for ${image.width}×${image.height} pixels, got ${image.data.length}`,
    );
    return image;
  }
  if (isCanvas(image)) {
    const context = image.getContext("2d") as Context2d | null;
    expect(context !== null, field, "expected a canvas with a 2-D context");
    return context.getImageData(0, 0, image.width, image.height);
  }
  if (image !== null && typeof image === "object") {
    const source = image as DrawableImage;
    const width = source.naturalWidth ?? source.videoWidth ?? source.displayWidth ?? source.width ?? 0;
    const height = source.naturalHeight ?? source.videoHeight ?? source.displayHeight ?? source.height ?? 0;
    const canvas = makeCanvas(width, height, field);
    const context = canvas.getContext("2d") as Context2d;
    context.drawImage(image, 0, 0);
    return context.getImageData(0, 0, width, height);
  }
  throw new ConcordError(
    `expected RGBA pixels { data, width, height }, a canvas, an image, a video frame or a tensor, got ${image === null ? "null" : typeof image}`,
    { field },
  );
}

function isRgba(image: unknown): image is RgbaImage {
  const candidate = image as Partial<RgbaImage> | null;
  return (
    candidate !== null &&
    typeof candidate === "object" &&
    candidate.data !== undefined &&
    typeof candidate.data.length === "number" &&
    Number.isInteger(candidate.width) &&
    Number.isInteger(candidate.height) &&
    candidate.width! > 0 &&
    candidate.height! > 0
  );
}

function isCanvas(image: unknown): image is CanvasLike {
  return image !== null && typeof image === "object" && typeof (image as CanvasLike).getContext === "function";
}

function makeCanvas(width: number, height: number, field: string): CanvasLike {
  expect(width > 0 && height > 0, field, `expected an image with a size, got ${width}×${height} (is it loaded?)`);
  const scope = globalThis as {
    OffscreenCanvas?: new (w: number, h: number) => CanvasLike;
    document?: { createElement(tag: "canvas"): CanvasLike & { width: number; height: number } };
  };
  if (scope.OffscreenCanvas) return new scope.OffscreenCanvas(width, height);
  if (scope.document) {
    const canvas = scope.document.createElement("canvas");
    canvas.width = width;
    canvas.height = height;
    return canvas;
  }
  throw new ConcordError("expected RGBA pixels { data, width, height } or a tensor here (no canvas to draw an image on outside a page)", { field });
}
