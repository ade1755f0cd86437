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

/** The per-iteration diagnostics a curve point may carry (absent in metrics files written before them). */
export type DiagnosticField = "effectiveTasks" | "weightedCosine";

/** A curve point as the diagnostics helpers read it (CurvePoint fits). */
export type DiagnosticPoint = { readonly iteration: number } & { readonly [K in DiagnosticField]?: number };

/** True when some point of some curve carries a finite value of `field`. */
export function hasDiagnostic(curves: readonly (readonly DiagnosticPoint[])[], field: DiagnosticField): boolean {
  return curves.some((curve) => curve.some((point) => Number.isFinite(point[field])));
}

/**
 * The mean over seeds of `field` at every iteration where at least one seed recorded it, sorted by
 * iteration (seeds that lack the field at an iteration are left out of that iteration's mean).
 */
export function diagnosticSeries(curves: readonly (readonly DiagnosticPoint[])[], field: DiagnosticField): { iteration: number; value: number }[] {
  const sums = new Map<number, { sum: number; count: number }>();
  for (const curve of curves) {
    for (const point of curve) {
      const value = point[field];
      if (value === undefined || !Number.isFinite(value)) continue;
      const entry = sums.get(point.iteration) ?? { sum: 0, count: 0 };
      entry.sum += value;
      entry.count += 1;
      sums.set(point.iteration, entry);
    }
  }
  return [...sums.entries()].sort(([a], [b]) => a - b).map(([iteration, { sum, count }]) => ({ iteration, value: sum / count }));
}

/**
 * The mean of `field` over the last `fraction` of training (iterations above (1 − fraction) × the
 * last recorded one), pooled over seeds; undefined when no point carries it.
 */
export function lateMean(curves: readonly (readonly DiagnosticPoint[])[], field: DiagnosticField, fraction = 0.1): number | undefined {
  const points = curves.flatMap((curve) => curve.filter((point) => Number.isFinite(point[field])));
  if (points.length === 0) return undefined;
  const last = Math.max(...points.map((point) => point.iteration));
  const late = points.filter((point) => point.iteration > (1 - fraction) * last);
  const kept = late.length > 0 ? late : points;
  return kept.reduce((sum, point) => sum + point[field]!, 0) / kept.length;
}
