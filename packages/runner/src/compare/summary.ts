import { join } from "node:path";
import { combineEvaluations } from "@concord/algorithms";
import type { ReportArmParams } from "@concord/core";
import { writeFileAtomicSync } from "../atomic-file.js";
import { disposeCheckpoint, type LoadedCheckpoint, loadCheckpoint } from "../checkpoint.js";
import { configToJson, type ExperimentConfig } from "../config.js";
import { familyPanels } from "../experiment-parts.js";
import { type MetricsRecord, readMetrics } from "../metrics-log.js";
import type { Registry } from "../registry.js";
import type { CurvePoint, ReportArm, ReportData, WeightSnapshot } from "@concord/report";
import { evaluationSummary, RunFolder } from "../run-folder.js";
import type { ArmPlan, RunPlan } from "./plan.js";
import type { RunOutcome } from "./schedule.js";

export interface SummaryOptions {
  readonly title: string;
  readonly preset: string;
  /** The backend named when no run reported one. */
  readonly backend: string;
}

/**
 * The report of a finished comparison: per arm, every seed's learning curve (metrics.jsonl), task
 * weights over training (first seed), the evaluations pooled over seeds; and the task family's own
 * panels drawn from each arm's final parameters (first seed's checkpoint).
 */
export async function summarise(
  config: ExperimentConfig,
  arms: readonly ArmPlan[],
  runs: readonly RunPlan[],
  outcomes: ReadonlyMap<RunPlan, RunOutcome>,
  registry: Registry,
  options: SummaryOptions,
): Promise<ReportData> {
  const reportArms: ReportArm[] = arms.map((arm) => {
    const armRuns = runs.filter((run) => run.arm === arm);
    const records = armRuns.map((run) => readMetrics(new RunFolder(run.outDir).metricsPath));
    return {
      name: arm.name,
      algorithm: arm.algorithm.name,
      weighting: arm.weighting.name,
      seeds: armRuns.map((run) => run.seed),
      curves: records.map(curveOf),
      weightSnapshots: records[0] ? snapshots(records[0], 40) : [],
      evaluation: combineEvaluations(armRuns.map((run) => outcomes.get(run)!.evaluation)),
      wallTimeSeconds: armRuns.reduce((total, run) => total + outcomes.get(run)!.seconds, 0),
    };
  });
  const panels = await withFinalParams(
    arms.map((arm) => runs.find((run) => run.arm === arm)!),
    (finals) => familyPanels(config, registry, finals),
  );
  return {
    title: options.title,
    preset: options.preset,
    backend: [...new Set(runs.map((run) => outcomes.get(run)!.evaluation.backend))].join(",") || options.backend,
    createdAt: new Date().toISOString(),
    iterations: config.iterations,
    metaBatchSize: config.metaBatchSize,
    config: configToJson(config),
    arms: reportArms,
    ...(panels.length > 0 ? { panels } : {}),
  };
}

/** results.json: everything but per-task arrays, per-iteration curves and panels. */
export function writeResultsJson(outDir: string, data: ReportData): void {
  const { panels: _panels, ...rest } = data;
  const summary = {
    ...rest,
    arms: data.arms.map(({ curves: _curves, weightSnapshots: _snapshots, evaluation, ...arm }) => ({ ...arm, evaluation: evaluationSummary(evaluation) })),
  };
  writeFileAtomicSync(join(outDir, "results.json"), [`${JSON.stringify(summary, null, 2)}\n`]);
}

/** Loads each run's final parameters from its checkpoint for `use`, and frees them afterwards. */
async function withFinalParams<T>(runs: readonly RunPlan[], use: (arms: ReportArmParams[]) => Promise<T>): Promise<T> {
  const checkpoints: LoadedCheckpoint[] = [];
  try {
    for (const run of runs) checkpoints.push(loadCheckpoint(new RunFolder(run.outDir).checkpointPath));
    return await use(runs.map((run, i) => ({ name: run.arm.name, params: checkpoints[i]!.params })));
  } finally {
    for (const checkpoint of checkpoints) disposeCheckpoint(checkpoint);
  }
}

/** One seed's learning curve from its metrics records; the diagnostics only where a record has them. */
export function curveOf(records: readonly MetricsRecord[]): CurvePoint[] {
  return records.map((record) => {
    // The per-iteration diagnostics are absent from metrics files written before them: left out, not NaN.
    const { effectiveTasks, weightedCosine } = record as { effectiveTasks?: unknown; weightedCosine?: unknown };
    return {
      iteration: record.iteration,
      queryLossAfter: record.queryLossAfter ?? Number.NaN,
      queryLossBefore: record.queryLossBefore ?? Number.NaN,
      ...(typeof effectiveTasks === "number" ? { effectiveTasks } : {}),
      ...(typeof weightedCosine === "number" ? { weightedCosine } : {}),
    };
  });
}

/** About `count` evenly spaced iterations' task weights (the first and last included). */
function snapshots(records: readonly { iteration: number; weights: readonly number[] }[], count: number): WeightSnapshot[] {
  if (records.length === 0) return [];
  const stride = Math.max(1, Math.floor(records.length / count));
  const picked = records.filter((_, i) => i % stride === 0);
  if (picked.at(-1) !== records.at(-1)) picked.push(records.at(-1)!);
  return picked.map((record) => ({ iteration: record.iteration, weights: [...record.weights] }));
}
