import { conditionalValueAtRisk, type Interval, meanWithCi95, seedLevelInterval, type WorseEnd, worstGroup } from "@concord/algorithms";
import { ConcordError } from "@concord/core";
import type { RunRecord } from "./run-record.js";

/** CVaR level of the tail column: the worst 10% of the held-out tasks. */
export const TAIL_ALPHA = 0.1;

/** One statistic of an arm across seeds: each seed's value and the seed-level mean ± t-based CI. */
export interface SeedLevel extends Interval {
  readonly perSeed: readonly number[];
}

/** arm − uniform (same algorithm, same seeds, same evaluation tasks), in the metric's own units. */
export interface VersusUniform {
  /** Seed-level: the per-seed differences of the means, t CI over seeds. */
  readonly mean: SeedLevel;
  /** Task-level: the differences of every (seed, task) pair pooled, 1.96·s/√n (the tasks' noise only). */
  readonly meanPooledTasks: Interval & { readonly pairs: number };
  readonly cvar: SeedLevel;
  readonly worstGroup?: SeedLevel;
  /** Seeds on which the arm's mean is better than uniform's. */
  readonly seedsBetter: number;
}

export interface ArmRow {
  readonly arm: string;
  readonly algorithm: string;
  readonly weighting: string;
  readonly mean: SeedLevel;
  readonly cvar: SeedLevel;
  /** The mean of each seed's worst group (the group may differ between seeds). */
  readonly worstGroup?: SeedLevel;
  /** The group that was worst most often across seeds. */
  readonly worstGroupName?: string;
  readonly versusUniform?: VersusUniform;
}

export type Criterion = "mean" | "cvar" | "worstGroup";

/** The best arm of one algorithm on one criterion, and whether it is resolved against uniform. */
export interface Verdict {
  readonly algorithm: string;
  readonly criterion: Criterion;
  readonly best: string;
  /** best − uniform, seed-level (absent when uniform is best). */
  readonly difference?: SeedLevel;
  /** True when the seed-level CI of best − uniform excludes 0 (when uniform is best: of uniform − runner-up). */
  readonly resolved: boolean;
  /** Uniform's margin over the runner-up when uniform is best. */
  readonly uniformMargin?: SeedLevel;
  readonly runnerUp?: string;
}

export interface PresetBoard {
  readonly preset: string;
  /** accuracy for classification (higher is better), loss otherwise (lower is better). */
  readonly metric: "accuracy" | "loss";
  readonly seeds: readonly number[];
  readonly tasks: number;
  readonly iterations: number;
  readonly step: number;
  readonly evaluationSeed: number;
  readonly backends: readonly string[];
  readonly alpha: number;
  readonly arms: readonly ArmRow[];
  readonly verdicts: readonly Verdict[];
  /** Per algorithm: the median over arms of the seed-level paired CI half-width of the mean (the smallest effect this design resolves). */
  readonly resolvableEffect: Readonly<Record<string, number>>;
}

/** Builds one preset's leaderboard from its run records (every arm on the same seeds and evaluation tasks). */
export function presetBoard(records: readonly RunRecord[]): PresetBoard {
  if (records.length === 0) throw new ConcordError("no run records", { field: "records" });
  const first = records[0]!;
  const metric = first.perTaskAccuracy ? "accuracy" : "loss";
  const worse: WorseEnd = metric === "accuracy" ? "low" : "high";
  for (const record of records) checkComparable(record, first, metric);
  const valuesOf = (record: RunRecord) => (metric === "accuracy" ? record.perTaskAccuracy! : record.perTaskLoss);
  const seeds = [...new Set(records.map((record) => record.seed))].sort((a, b) => a - b);
  const armNames = [...new Set(records.map((record) => `${record.algorithm}+${record.weighting}`))].sort(byArmOrder);
  const runsOf = (arm: string) => {
    const runs = seeds.map((seed) => records.find((record) => `${record.algorithm}+${record.weighting}` === arm && record.seed === seed));
    if (runs.some((run) => run === undefined)) {
      throw new ConcordError(`arm ${arm} of ${first.preset} lacks seeds: every arm needs a record for seeds ${seeds.join(", ")}`, { field: arm });
    }
    return runs as RunRecord[];
  };

  const seedLevel = (perSeed: number[]): SeedLevel => ({ ...seedLevelInterval(perSeed), perSeed });
  const statistics = (runs: RunRecord[]) => ({
    mean: runs.map((run) => mean(valuesOf(run))),
    cvar: runs.map((run) => conditionalValueAtRisk(valuesOf(run), TAIL_ALPHA, worse)),
    worst: first.perTaskGroup ? runs.map((run) => worstGroup(valuesOf(run), run.perTaskGroup!, run.groupNames, worse)) : undefined,
  });

  const arms: ArmRow[] = armNames.map((arm) => {
    const runs = runsOf(arm);
    const own = statistics(runs);
    const [algorithm, weighting] = [runs[0]!.algorithm, runs[0]!.weighting];
    const uniformArm = `${algorithm}+uniform`;
    let versusUniform: VersusUniform | undefined;
    if (weighting !== "uniform" && armNames.includes(uniformArm)) {
      const uniformRuns = runsOf(uniformArm);
      const base = statistics(uniformRuns);
      const minus = (a: number[], b: number[]) => a.map((value, k) => value - b[k]!);
      const pairs = runs.flatMap((run, k) => valuesOf(run).map((value, task) => value - valuesOf(uniformRuns[k]!)[task]!));
      versusUniform = {
        mean: seedLevel(minus(own.mean, base.mean)),
        meanPooledTasks: { ...meanWithCi95(pairs), pairs: pairs.length },
        cvar: seedLevel(minus(own.cvar, base.cvar)),
        ...(own.worst && base.worst
          ? {
              worstGroup: seedLevel(
                minus(
                  own.worst.map((g) => g.mean),
                  base.worst.map((g) => g.mean),
                ),
              ),
            }
          : {}),
        seedsBetter: own.mean.filter((value, k) => (worse === "high" ? value < base.mean[k]! : value > base.mean[k]!)).length,
      };
    }
    return {
      arm,
      algorithm,
      weighting,
      mean: seedLevel(own.mean),
      cvar: seedLevel(own.cvar),
      ...(own.worst ? { worstGroup: seedLevel(own.worst.map((group) => group.mean)), worstGroupName: mostFrequent(own.worst.map((group) => group.name)) } : {}),
      ...(versusUniform ? { versusUniform } : {}),
    };
  });

  const algorithms = [...new Set(arms.map((arm) => arm.algorithm))];
  const criteria: Criterion[] = first.perTaskGroup ? ["mean", "cvar", "worstGroup"] : ["mean", "cvar"];
  const verdicts = algorithms.flatMap((algorithm) =>
    criteria.map((criterion) =>
      verdictOf(
        arms.filter((arm) => arm.algorithm === algorithm),
        algorithm,
        criterion,
        worse,
      ),
    ),
  );
  const resolvableEffect = Object.fromEntries(
    algorithms.map((algorithm) => [
      algorithm,
      median(arms.filter((arm) => arm.algorithm === algorithm && arm.versusUniform).map((arm) => arm.versusUniform!.mean.ci95)),
    ]),
  );
  return {
    preset: first.preset,
    metric,
    seeds,
    tasks: first.perTaskLoss.length,
    iterations: first.iterations,
    step: first.step,
    evaluationSeed: first.evaluationSeed,
    backends: [...new Set(records.map((record) => record.backend))],
    alpha: TAIL_ALPHA,
    arms,
    verdicts,
    resolvableEffect,
  };
}

function verdictOf(arms: readonly ArmRow[], algorithm: string, criterion: Criterion, worse: WorseEnd): Verdict {
  const statistic = (arm: ArmRow): SeedLevel => (criterion === "worstGroup" ? arm.worstGroup! : arm[criterion]);
  const ranked = [...arms].sort((a, b) => (worse === "high" ? statistic(a).mean - statistic(b).mean : statistic(b).mean - statistic(a).mean));
  const best = ranked[0]!;
  const excludesZero = (interval: Interval) => Number.isFinite(interval.ci95) && Math.abs(interval.mean) > interval.ci95;
  if (best.weighting !== "uniform") {
    const difference = criterion === "worstGroup" ? best.versusUniform?.worstGroup : best.versusUniform?.[criterion];
    return { algorithm, criterion, best: best.weighting, ...(difference ? { difference } : {}), resolved: difference ? excludesZero(difference) : false };
  }
  // Uniform is best: is it resolved against the runner-up? Both arms' per-seed values are already in their rows.
  const runnerUp = ranked[1];
  if (!runnerUp) return { algorithm, criterion, best: best.weighting, resolved: false };
  const runnerValues = statistic(runnerUp).perSeed;
  const margins = statistic(best).perSeed.map((v, k) => v - runnerValues[k]!);
  const uniformMargin = { ...seedLevelInterval(margins), perSeed: margins };
  return { algorithm, criterion, best: "uniform", runnerUp: runnerUp.weighting, uniformMargin, resolved: excludesZero(uniformMargin) };
}

/** The order of the schemes in tables: uniform first (the baseline), then as the lab runs them. */
const SCHEME_ORDER = ["uniform", "agreement", "cosine-agreement", "tail-risk", "loss-softmax", "tr-maml"];

function byArmOrder(a: string, b: string): number {
  const [algorithmA, schemeA] = a.split("+") as [string, string];
  const [algorithmB, schemeB] = b.split("+") as [string, string];
  if (algorithmA !== algorithmB) return algorithmA < algorithmB ? -1 : 1;
  const rank = (scheme: string) => (SCHEME_ORDER.includes(scheme) ? SCHEME_ORDER.indexOf(scheme) : SCHEME_ORDER.length);
  return rank(schemeA) - rank(schemeB) || (schemeA < schemeB ? -1 : schemeA > schemeB ? 1 : 0);
}

function checkComparable(record: RunRecord, first: RunRecord, metric: "accuracy" | "loss"): void {
  const where = `${record.preset} ${record.algorithm}+${record.weighting} seed ${record.seed}`;
  const same = (field: keyof RunRecord) => {
    if (record[field] !== first[field]) {
      throw new ConcordError(
        `${where}: ${field} is ${JSON.stringify(record[field])}, but the other runs have ${JSON.stringify(first[field])}; arms must be paired`,
        { field },
      );
    }
  };
  for (const field of ["preset", "evaluationSeed", "step", "iterations"] as const) same(field);
  if (record.perTaskLoss.length !== first.perTaskLoss.length)
    throw new ConcordError(`${where}: ${record.perTaskLoss.length} tasks, expected ${first.perTaskLoss.length}`, { field: "perTaskLoss" });
  if ((metric === "accuracy") !== (record.perTaskAccuracy !== undefined))
    throw new ConcordError(`${where}: accuracy present in some runs only`, { field: "perTaskAccuracy" });
  if (JSON.stringify(record.perTaskGroup) !== JSON.stringify(first.perTaskGroup)) {
    throw new ConcordError(`${where}: its tasks' groups differ from the other runs': not the same evaluation tasks`, { field: "perTaskGroup" });
  }
}

function mean(values: readonly number[]): number {
  let sum = 0;
  for (const value of values) sum += value;
  return sum / values.length;
}

function median(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

function mostFrequent(names: readonly string[]): string {
  const counts = new Map<string, number>();
  for (const name of names) counts.set(name, (counts.get(name) ?? 0) + 1);
  return [...counts.entries()].sort((a, b) => b[1] - a[1])[0]![0];
}
