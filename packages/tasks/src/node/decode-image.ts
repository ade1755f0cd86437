import { decode as decodePng, convertIndexedToRgb } from "fast-png";
import jpeg from "jpeg-js";
import { ConcordError } from "@concord/core";

/** A decoded image: `pixels` is HWC float in [0, 1] with the requested number of channels. */
export interface DecodedImage {
  readonly height: number;
  readonly width: number;
  readonly channels: 1 | 3;
  readonly pixels: Float32Array;
}

export const IMAGE_EXTENSIONS = [".png", ".jpg", ".jpeg"] as const;

/**
 * Decodes a PNG (any bit depth, grey, grey+alpha, RGB, RGBA or palette) or a baseline/progressive
 * JPEG into floats in [0, 1]. Alpha is dropped (not composited). Colour → grey uses ITU-R 601 luma,
 * 0.299 R + 0.587 G + 0.114 B, as PIL's convert("L") does; grey → RGB repeats the value.
 * Throws a ConcordError naming `file` when the bytes are not a readable image.
 */
export function decodeImage(bytes: Uint8Array, file: string, channels: 1 | 3): DecodedImage {
  let interleaved: Interleaved;
  try {
    interleaved = isPng(bytes) ? readPng(bytes) : isJpeg(bytes) ? readJpeg(bytes) : unknownFormat();
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new ConcordError(`cannot decode image (${reason})`, { field: file, cause: error });
  }
  const { width, height, data, max } = interleaved;
  const sourceChannels = interleaved.channels;
  const pixelCount = width * height;
  const pixels = new Float32Array(pixelCount * channels);
  const scale = 1 / max;
  // Specialised loops: this runs on every pixel of every image (32k Omniglot drawings).
  if (sourceChannels < 3) {
    for (let n = 0; n < pixelCount; n++) {
      const value = data[n * sourceChannels]! * scale;
      if (channels === 1) pixels[n] = value;
      else pixels[3 * n] = pixels[3 * n + 1] = pixels[3 * n + 2] = value;
    }
  } else if (channels === 1) {
    for (let n = 0, at = 0; n < pixelCount; n++, at += sourceChannels) {
      pixels[n] = (0.299 * data[at]! + 0.587 * data[at + 1]! + 0.114 * data[at + 2]!) * scale;
    }
  } else {
    for (let n = 0, at = 0; n < pixelCount; n++, at += sourceChannels) {
      pixels[3 * n] = data[at]! * scale;
      pixels[3 * n + 1] = data[at + 1]! * scale;
      pixels[3 * n + 2] = data[at + 2]! * scale;
    }
  }
  return { height, width, channels, pixels };
}

interface Interleaved {
  readonly width: number;
  readonly height: number;
  readonly channels: number;
  readonly data: Uint8Array | Uint8ClampedArray | Uint16Array;
  /** The value meaning full intensity: 2^depth − 1. */
  readonly max: number;
}

function isPng(bytes: Uint8Array): boolean {
  return bytes.length >= 8 && bytes[0] === 0x89 && bytes[1] === 0x50 && bytes[2] === 0x4e && bytes[3] === 0x47;
}

function isJpeg(bytes: Uint8Array): boolean {
  return bytes.length >= 3 && bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff;
}

function unknownFormat(): never {
  throw new Error("not a PNG or JPEG file");
}

function readPng(bytes: Uint8Array): Interleaved {
  const png = decodePng(bytes, { checkCrc: true });
  const { width, height, depth } = png;
  if (png.palette) {
    const rgb = convertIndexedToRgb(png);
    return { width, height, channels: rgb.length / (width * height), data: rgb, max: 255 };
  }
  const channels = png.channels;
  const expected = width * height * channels;
  if (depth >= 8) {
    if (png.data.length < expected) throw new Error("truncated pixel data");
    return { width, height, channels, data: png.data, max: depth === 16 ? 65535 : 255 };
  }
  // Bit depths 1, 2 and 4 (grey only) arrive packed, each row padded to a whole byte.
  const unpacked = new Uint8Array(expected);
  const rowBytes = Math.ceil((width * channels * depth) / 8);
  const mask = (1 << depth) - 1;
  if (png.data.length < rowBytes * height) throw new Error("truncated pixel data");
  const perRow = width * channels;
  for (let row = 0; row < height; row++) {
    const rowStart = row * rowBytes;
    for (let i = 0, bit = 0; i < perRow; i++, bit += depth) {
      unpacked[row * perRow + i] = (png.data[rowStart + (bit >> 3)]! >> (8 - depth - (bit & 7))) & mask;
    }
  }
  return { width, height, channels, data: unpacked, max: mask };
}

function readJpeg(bytes: Uint8Array): Interleaved {
  const image = jpeg.decode(bytes, { useTArray: true, formatAsRGBA: true, maxMemoryUsageInMB: 1024 });
  return { width: image.width, height: image.height, channels: 4, data: image.data, max: 255 };
}
