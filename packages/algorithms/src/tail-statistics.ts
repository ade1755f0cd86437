import { createRng, expect, expectInteger, expectNumber } from "@concord/core";
import { meanWithCi95 } from "./evaluate-adaptation.js";

/** Which end of a metric is bad: "high" for losses, "low" for accuracies. */
export type WorseEnd = "high" | "low";

/** A point estimate with its 95% confidence half-width. */
export interface Interval {
  readonly mean: number;
  readonly ci95: number;
}

export interface TailOptions {
  /** Which values are bad. */
  readonly worse: WorseEnd;
  /** CVaR level: the mean of the worst ⌈α·n⌉ values. Default 0.1. */
  readonly alpha?: number;
  /** Each value's group (an evaluation's perTaskGroup); gives the worst group's mean. */
  readonly groups?: readonly number[];
  /** Names of the groups, indexed by `groups`. */
  readonly groupNames?: readonly string[];
  /** Bootstrap resamples for the CVaR's CI. Default 2000. */
  readonly resamples?: number;
  /** Seed of the bootstrap (the same seed gives the same CI). Default 0. */
  readonly seed?: number;
}

export interface WorstGroup extends Interval {
  readonly group: number;
  readonly name: string;
  readonly tasks: number;
}

/** The mean, the CVaR at α and the worst group of one set of per-task values, each with a 95% CI. */
export interface TailSummary {
  readonly tasks: number;
  /** Mean over tasks, ci95 = 1.96·s/√n. */
  readonly mean: Interval;
  /** CVaR_α: mean of the worst ⌈α·n⌉ tasks; ci95 = 1.96 × its bootstrap standard error over tasks. */
  readonly cvar: Interval & { readonly alpha: number };
  /**
   * The group with the worst mean, ci95 = 1.96·s/√n over its tasks. Picking the worst of several
   * noisy means biases it towards worse (the CI is that group's alone); compare arms on one group.
   */
  readonly worstGroup?: WorstGroup;
}

/** The number of tasks in a CVaR_α tail: max(1, ⌈α·n⌉), with α·n rounded to 1e-9 first (0.1·30 is 3, not 4). */
export function tailCount(alpha: number, n: number): number {
  return Math.max(1, Math.ceil(Number((alpha * n).toFixed(9))));
}

/** CVaR_α of `values`: the mean of the worst ⌈α·n⌉ values (the largest when worse is "high"). */
export function conditionalValueAtRisk(values: readonly number[], alpha: number, worse: WorseEnd): number {
  expect(values.length > 0, "values", "expected at least one value");
  expectNumber(alpha, "alpha", 0, 1);
  expect(alpha > 0, "alpha", `expected alpha in (0, 1], got ${alpha}`);
  const sorted = [...values].sort((a, b) => (worse === "high" ? b - a : a - b));
  const k = tailCount(alpha, values.length);
  let sum = 0;
  for (let i = 0; i < k; i++) sum += sorted[i]!;
  return sum / k;
}

/** The mean, CVaR_α and worst group of per-task values (see TailSummary). */
export function tailSummary(values: readonly number[], options: TailOptions): TailSummary {
  const { worse, alpha = 0.1, resamples = 2000, seed = 0 } = options;
  expect(worse === "high" || worse === "low", "worse", `expected "high" or "low", got ${JSON.stringify(worse)}`);
  expect(values.length >= 2 && values.every(Number.isFinite), "values", "expected at least two finite values");
  expectInteger(resamples, "resamples", 2);
  const cvar = conditionalValueAtRisk(values, alpha, worse);
  return {
    tasks: values.length,
    mean: meanWithCi95(values),
    cvar: { alpha, mean: cvar, ci95: 1.96 * bootstrapStandardError(values, (sample) => conditionalValueAtRisk(sample, alpha, worse), resamples, seed) },
    ...(options.groups ? { worstGroup: worstGroup(values, options.groups, options.groupNames, worse) } : {}),
  };
}

/** The group whose tasks have the worst mean (groups with fewer than two tasks cannot have a CI and are skipped). */
export function worstGroup(values: readonly number[], groups: readonly number[], names: readonly string[] | undefined, worse: WorseEnd): WorstGroup {
  expect(groups.length === values.length, "groups", `expected one group per value (${values.length}), got ${groups.length}`);
  const members = new Map<number, number[]>();
  groups.forEach((group, i) => {
    expectInteger(group, `groups[${i}]`, 0);
    const list = members.get(group) ?? [];
    list.push(values[i]!);
    members.set(group, list);
  });
  let worst: WorstGroup | undefined;
  for (const [group, list] of [...members.entries()].sort(([a], [b]) => a - b)) {
    if (list.length < 2) continue;
    const interval = meanWithCi95(list);
    const isWorse = worst === undefined || (worse === "high" ? interval.mean > worst.mean : interval.mean < worst.mean);
    if (isWorse) worst = { group, name: names?.[group] ?? String(group), tasks: list.length, ...interval };
  }
  expect(worst !== undefined, "groups", "expected some group with at least two tasks");
  return worst!;
}

/**
 * A statistic's bootstrap standard error: the sample standard deviation of `statistic` over
 * `resamples` resamples of `values` with replacement, drawn from createRng(seed).
 */
export function bootstrapStandardError(values: readonly number[], statistic: (sample: number[]) => number, resamples: number, seed: number): number {
  const rng = createRng(seed);
  const estimates: number[] = [];
  const sample = new Array<number>(values.length);
  for (let r = 0; r < resamples; r++) {
    for (let i = 0; i < values.length; i++) sample[i] = values[rng.int(values.length)]!;
    estimates.push(statistic(sample));
  }
  const mean = estimates.reduce((sum, value) => sum + value, 0) / resamples;
  return Math.sqrt(estimates.reduce((sum, value) => sum + (value - mean) ** 2, 0) / (resamples - 1));
}

/**
 * A seed-level interval: the mean of one value per training seed and its 95% CI
 * t₀.₉₇₅(n−1)·s/√n (Student's t, since a few seeds give a poor estimate of s). NaN CI for one seed.
 */
export function seedLevelInterval(perSeed: readonly number[]): Interval & { readonly seeds: number } {
  expect(perSeed.length > 0 && perSeed.every(Number.isFinite), "perSeed", "expected at least one finite value");
  const n = perSeed.length;
  const mean = perSeed.reduce((sum, value) => sum + value, 0) / n;
  if (n === 1) return { mean, ci95: Number.NaN, seeds: 1 };
  const s = Math.sqrt(perSeed.reduce((sum, value) => sum + (value - mean) ** 2, 0) / (n - 1));
  return { mean, ci95: (studentT975(n - 1) * s) / Math.sqrt(n), seeds: n };
}

// t₀.₉₇₅ for 1..30 degrees of freedom (standard tables, 3 decimals).
const T975 = [
  12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.16, 2.145, 2.131, 2.12, 2.11, 2.101, 2.093, 2.086, 2.08, 2.074, 2.069,
  2.064, 2.06, 2.056, 2.052, 2.048, 2.045, 2.042,
];

/** Student's t quantile at 0.975: the table up to 30 degrees of freedom, then the Cornish–Fisher expansion (error < 1e-3). */
export function studentT975(degreesOfFreedom: number): number {
  expectInteger(degreesOfFreedom, "degreesOfFreedom", 1);
  if (degreesOfFreedom <= T975.length) return T975[degreesOfFreedom - 1]!;
  const z = 1.959964;
  const v = degreesOfFreedom;
  return z + (z ** 3 + z) / (4 * v) + (5 * z ** 5 + 16 * z ** 3 + 3 * z) / (96 * v ** 2);
}
