// Plain-number transforms that turn raw run data into the rows the charts plot.

/** Centered moving average over a window of `window` points (shrinking at the ends); NaNs skipped. */
export function movingAverage(values: readonly number[], window: number): number[] {
  const half = Math.max(0, Math.floor(window / 2));
  return values.map((_, i) => {
    let sum = 0;
    let count = 0;
    for (let j = Math.max(0, i - half); j <= Math.min(values.length - 1, i + half); j++) {
      const value = values[j]!;
      if (Number.isFinite(value)) {
        sum += value;
        count += 1;
      }
    }
    return count > 0 ? sum / count : Number.NaN;
  });
}

/** The window the learning curves use: about 1/25 of the run, odd, at least 1. */
export function smoothingWindow(length: number): number {
  const window = Math.max(1, Math.round(length / 25));
  return window % 2 === 0 ? window + 1 : window;
}

/** Indices of at most `limit` evenly spaced points, always keeping the first and the last. */
export function thinIndices(length: number, limit: number): number[] {
  if (length <= limit) return Array.from({ length }, (_, i) => i);
  const indices = new Set<number>();
  for (let k = 0; k < limit; k++) indices.add(Math.round((k * (length - 1)) / (limit - 1)));
  return [...indices].sort((a, b) => a - b);
}

/** Linear-interpolated quantile (type 7, as numpy's default) of sorted values. */
export function quantileSorted(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return Number.NaN;
  const position = (sorted.length - 1) * q;
  const below = Math.floor(position);
  const above = Math.min(sorted.length - 1, below + 1);
  return sorted[below]! + (sorted[above]! - sorted[below]!) * (position - below);
}

export interface WeightBin {
  /** Mean iteration of the snapshots in the bin. */
  readonly iteration: number;
  readonly min: number;
  readonly q10: number;
  readonly q25: number;
  readonly median: number;
  readonly q75: number;
  readonly q90: number;
  readonly max: number;
  /** Mean number of negative weights per meta-batch. */
  readonly negatives: number;
  /** 1/N for the meta-batch size N of the bin (the uniform weight). */
  readonly uniform: number;
}

/**
 * Groups weight snapshots (sorted by iteration) into at most `bins` consecutive bins and summarises
 * every weight of a bin by quantiles, plus the mean count of negative weights per snapshot.
 */
export function binWeights(snapshots: readonly { iteration: number; weights: readonly number[] }[], bins: number): WeightBin[] {
  const sorted = [...snapshots].filter((s) => s.weights.length > 0).sort((a, b) => a.iteration - b.iteration);
  // Near-equal bins (sizes differ by at most one), so no bin at the end holds a lone snapshot.
  const count = Math.min(bins, sorted.length);
  const groups = Array.from({ length: count }, (_, k) => sorted.slice(Math.floor((k * sorted.length) / count), Math.floor(((k + 1) * sorted.length) / count)));
  return groups.map((group) => {
    const weights = group.flatMap((snapshot) => [...snapshot.weights]).sort((a, b) => a - b);
    const negatives = group.reduce((sum, snapshot) => sum + snapshot.weights.filter((w) => w < 0).length, 0) / group.length;
    const meanBatch = group.reduce((sum, snapshot) => sum + snapshot.weights.length, 0) / group.length;
    return {
      iteration: group.reduce((sum, snapshot) => sum + snapshot.iteration, 0) / group.length,
      min: weights[0]!,
      q10: quantileSorted(weights, 0.1),
      q25: quantileSorted(weights, 0.25),
      median: quantileSorted(weights, 0.5),
      q75: quantileSorted(weights, 0.75),
      q90: quantileSorted(weights, 0.9),
      max: weights[weights.length - 1]!,
      negatives,
      uniform: 1 / meanBatch,
    };
  });
}

/** True when every snapshot's weights are all 1/N (within 1e-6 relative): nothing to show. */
export function weightsAreUniform(snapshots: readonly { weights: readonly number[] }[]): boolean {
  return snapshots.every(({ weights }) => weights.every((w) => Math.abs(w * weights.length - 1) <= 1e-6));
}
