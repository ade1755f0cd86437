// Helpers the conformance suites of every plug-in kind share (each package's /testing entry and the
// tests): one relative error, one tensor-leak measure.
import * as tf from "@tensorflow/tfjs-core";

/** max |a − b| / max(max |b|, floor): a relative error robust to tiny entries; Infinity when the lengths differ. */
export function relativeError(a: ArrayLike<number>, b: ArrayLike<number>, floor = 1e-3): number {
  if (a.length !== b.length) return Number.POSITIVE_INFINITY;
  let difference = 0;
  let scale = floor;
  for (let i = 0; i < b.length; i++) {
    difference = Math.max(difference, Math.abs(a[i]! - b[i]!));
    scale = Math.max(scale, Math.abs(b[i]!));
  }
  return difference / scale;
}

/**
 * Runs `body` once (a warm-up: lazily created constants may stay), then `times` more times, and
 * returns how much tf.memory().numTensors grew over those `times` runs: 0 means `body` leaks nothing.
 */
export function tensorGrowth(body: () => void, times: number): number {
  body();
  const before = tf.memory().numTensors;
  for (let i = 0; i < times; i++) body();
  return tf.memory().numTensors - before;
}
