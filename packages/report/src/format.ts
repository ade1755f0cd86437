import type { ReportArm, ReportStepStatistic } from "./types.js";

/**
 * "mean ± ci" with as many decimals as show the interval to two significant digits (2 to 6),
 * e.g. 0.43214 ± 0.03121 → "0.432 ± 0.031". A missing interval prints as "± n/a".
 */
export function formatMeanCi(mean: number, ci95: number): string {
  if (!Number.isFinite(mean)) return String(mean);
  if (!Number.isFinite(ci95)) return `${mean.toFixed(4)} ± n/a`;
  const decimals = ci95 > 0 ? Math.min(6, Math.max(2, 1 - Math.floor(Math.log10(ci95)))) : 4;
  return `${mean.toFixed(decimals)} ± ${ci95.toFixed(decimals)}`;
}

/** 42.3 → "42.3 s", 83 → "1 min 23 s", 3725 → "1 h 02 min". */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return "n/a";
  if (seconds < 60) return `${seconds.toFixed(1)} s`;
  const total = Math.round(seconds);
  if (total < 3600) return `${Math.floor(total / 60)} min ${String(total % 60).padStart(2, "0")} s`;
  return `${Math.floor(total / 3600)} h ${String(Math.floor((total % 3600) / 60)).padStart(2, "0")} min`;
}

/** The step with the lowest mean (the first one on ties). */
export function bestStep(statistics: readonly ReportStepStatistic[]): ReportStepStatistic | undefined {
  let best: ReportStepStatistic | undefined;
  for (const statistic of statistics) if (!best || statistic.mean < best.mean) best = statistic;
  return best;
}

export function finalStep(arm: ReportArm): ReportStepStatistic | undefined {
  return arm.evaluation.loss[arm.evaluation.loss.length - 1];
}

/** Whether the results tables get an accuracy column: every arm reports accuracy (classification). */
export function everyArmHasAccuracy(arms: readonly ReportArm[]): boolean {
  return arms.length > 0 && arms.every((arm) => arm.evaluation.accuracy !== undefined);
}

/** Query accuracy after the last inner step, as "96.87 ± 0.66 %"; undefined when the arm reports no accuracy. */
export function finalAccuracy(arm: ReportArm): string | undefined {
  const last = arm.evaluation.accuracy?.at(-1);
  return last ? `${(100 * last.mean).toFixed(2)} ± ${(100 * last.ci95).toFixed(2)} %` : undefined;
}

/** Iterations per seed: `arm.iterations`, else the last iteration of the first learning curve. */
export function armIterations(arm: ReportArm): number | undefined {
  if (arm.iterations !== undefined) return arm.iterations;
  const curve = arm.curves[0];
  return curve && curve.length > 0 ? curve[curve.length - 1]!.iteration : undefined;
}
