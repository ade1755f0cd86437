import { expectInteger } from "@concord/core";

/**
 * Area (box) resampling of an HWC image: every output pixel is the coverage-weighted mean of the
 * input pixels under its footprint, out[i][j] = Σ_{p,q} a_ip · b_jq · in[p][q] with a_ip the length
 * of the overlap of output row i's span [i·H/h, (i+1)·H/h) and input row p's span [p, p+1), divided
 * by H/h (b likewise for columns). For an integer factor (4×4 → 2×2) it is the mean of each block;
 * for 105 → 28 (factor 3.75) it weighs the shared border pixels by their overlap, like OpenCV's
 * INTER_AREA. Upscaling with it is box (nearest-like) interpolation. Separable: rows, then columns.
 */
export function resizeArea(
  source: ArrayLike<number>,
  shape: readonly [height: number, width: number, channels: number],
  size: readonly [height: number, width: number],
): Float32Array {
  const [inHeight, inWidth, channels] = shape;
  const [outHeight, outWidth] = size;
  expectInteger(outHeight, "size[0]", 1);
  expectInteger(outWidth, "size[1]", 1);
  if (inHeight === outHeight && inWidth === outWidth) return Float32Array.from(source);

  const rowWeights = areaWeights(inHeight, outHeight);
  const columnWeights = areaWeights(inWidth, outWidth);
  // Columns first: [inHeight, outWidth, channels].
  const narrowed = new Float64Array(inHeight * outWidth * channels);
  for (let p = 0; p < inHeight; p++) {
    for (let j = 0; j < outWidth; j++) {
      const to = (p * outWidth + j) * channels;
      for (const { index: q, weight } of columnWeights[j]!) {
        const from = (p * inWidth + q) * channels;
        for (let k = 0; k < channels; k++) narrowed[to + k]! += weight * source[from + k]!;
      }
    }
  }
  const out = new Float32Array(outHeight * outWidth * channels);
  for (let i = 0; i < outHeight; i++) {
    for (const { index: p, weight } of rowWeights[i]!) {
      for (let j = 0; j < outWidth * channels; j++) {
        out[i * outWidth * channels + j]! += weight * narrowed[p * outWidth * channels + j]!;
      }
    }
  }
  return out;
}

interface Tap {
  readonly index: number;
  readonly weight: number;
}

const weightCache = new Map<string, Tap[][]>();

/** For each output cell of an axis, the input cells it overlaps and their normalised overlaps (memoised). */
function areaWeights(inLength: number, outLength: number): Tap[][] {
  const key = `${inLength}>${outLength}`;
  const cached = weightCache.get(key);
  if (cached !== undefined) return cached;
  const scale = inLength / outLength;
  const weights: Tap[][] = [];
  for (let o = 0; o < outLength; o++) {
    const start = o * scale;
    const end = (o + 1) * scale;
    const taps: Tap[] = [];
    for (let p = Math.floor(start); p < Math.min(Math.ceil(end), inLength); p++) {
      const overlap = Math.min(end, p + 1) - Math.max(start, p);
      if (overlap > 1e-12) taps.push({ index: p, weight: overlap / scale });
    }
    weights.push(taps);
  }
  if (weightCache.size > 64) weightCache.clear();
  weightCache.set(key, weights);
  return weights;
}
