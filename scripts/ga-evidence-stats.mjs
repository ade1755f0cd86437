// Statistics shared by the examples' gradient-agreement evidence scripts
// (examples/sinusoid/scripts/ga-evidence.mjs, examples/omniglot/scripts/ga-evidence.mjs).

export const mean = (values) => (values.length === 0 ? Number.NaN : values.reduce((sum, v) => sum + v, 0) / values.length);

/** Pearson correlation of two equally long arrays. */
export function pearson(a, b) {
  const ma = mean(a);
  const mb = mean(b);
  let num = 0;
  let da = 0;
  let db = 0;
  a.forEach((x, i) => {
    num += (x - ma) * (b[i] - mb);
    da += (x - ma) ** 2;
    db += (b[i] - mb) ** 2;
  });
  return num / Math.sqrt(da * db);
}

/**
 * The weighting diagnostics of a run's metrics.jsonl records, early (first 10% of the records) and
 * late (last 10%): share of negative weights, effective tasks, cosine of the weighted to the uniform
 * direction, and the weight range.
 */
export function trainingPhases(records) {
  const tenth = Math.max(1, Math.floor(records.length / 10));
  const phase = (slice) => ({
    iterations: `${slice[0].iteration}–${slice.at(-1).iteration}`,
    negativeShare: mean(slice.map((r) => r.negativeWeights / r.weights.length)),
    effectiveTasks: mean(slice.map((r) => r.effectiveTasks ?? Number.NaN)),
    weightedCosine: mean(slice.map((r) => r.weightedCosine ?? Number.NaN)),
    weightMin: Math.min(...slice.map((r) => r.weightMin)),
    weightMax: Math.max(...slice.map((r) => r.weightMax)),
  });
  return { early: phase(records.slice(0, tenth)), late: phase(records.slice(-tenth)) };
}
