import { useBackend } from "@concord/backend";
import { createRegistry } from "../builtins.js";
import type { ExperimentConfig } from "../config.js";
import type { ProgressMode } from "../progress.js";
import type { Registry } from "../registry.js";
import type { ReportArm } from "@concord/report";
import { formatResultsTable } from "../table.js";
import { planArms, planRuns, type RunPlan } from "./plan.js";
import { type RunOutcome, type RunScheduler, scheduleRuns } from "./schedule.js";
import { summarise, writeResultsJson } from "./summary.js";

export { type ArmPlan, planArms, planRuns, type RunPlan } from "./plan.js";
export { type RunOutcome, type RunScheduler, type ScheduleOptions, scheduleRuns } from "./schedule.js";

export interface CompareOptions {
  /** Weighting scheme names, one arm each (e.g. ["uniform", "agreement"]). */
  readonly weightings: readonly string[];
  /** Algorithm names (e.g. ["maml", "reptile"]). Default: the config's algorithm. */
  readonly algorithms?: readonly string[];
  /** Number of seeds: config.seed, config.seed + 1, …; every arm uses the same ones. */
  readonly seeds: number;
  readonly outDir: string;
  readonly registry?: Registry;
  /** Plug-in files the registry was loaded from (passed on to parallel runs). */
  readonly pluginFiles?: readonly string[];
  readonly progress?: ProgressMode;
  /** Continue runs that have a checkpoint; start the others. */
  readonly resume?: boolean;
  /**
   * Runs trained at once, each in its own process (wasm is single-threaded, so two cores train two
   * runs). Default 1 (in this process). Results do not depend on it.
   */
  readonly jobs?: number;
  /** The script child processes run (default: the built dist/run-process.js; without it, runs stay in this process). */
  readonly runProcess?: string;
  /** Report title and the preset (or config file) name. */
  readonly title?: string;
  readonly preset?: string;
  /**
   * Trains the planned runs (default: scheduleRuns, in this process or `jobs` child processes). Another
   * scheduler (e.g. @concord/distributed's queue) must leave each run's folder as runExperiment does;
   * the summary only reads those folders, so it does not care where runs were trained.
   */
  readonly scheduler?: RunScheduler;
  /** Receives one line per finished run. Default: stderr. */
  readonly log?: (line: string) => void;
}

export interface CompareResult {
  readonly arms: ReportArm[];
  readonly table: string;
  readonly htmlPath: string;
  readonly images: string[];
  readonly outDir: string;
  readonly wallTimeSeconds: number;
}

/**
 * Runs every (algorithm × weighting) arm with the same seeds: plan, schedule, summary. train()
 * derives the initial θ and the task stream from the seed alone, so every arm starts from the same
 * θ and sees the same tasks; every arm is evaluated on the same held-out set (evaluation.seed).
 * Writes each run under `<outDir>/<arm>/seed-<s>`, then results.json, report.html and the charts.
 */
export async function compareExperiment(config: ExperimentConfig, options: CompareOptions): Promise<CompareResult> {
  const registry = options.registry ?? createRegistry();
  const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const started = performance.now();
  const arms = planArms(config, options.weightings, options.algorithms ?? [config.algorithm.name]);
  const runs = planRuns(config, arms, options.seeds, options.outDir, registry);

  const outcomes = new Map<RunPlan, RunOutcome>();
  const schedule = options.scheduler ?? scheduleRuns;
  await schedule(
    runs,
    {
      registry,
      jobs: options.jobs ?? 1,
      ...(options.pluginFiles ? { pluginFiles: options.pluginFiles } : {}),
      ...(options.progress ? { progress: options.progress } : {}),
      ...(options.resume ? { resume: options.resume } : {}),
      ...(options.runProcess ? { runProcess: options.runProcess } : {}),
    },
    (run, outcome) => {
      outcomes.set(run, outcome);
      const final = outcome.evaluation.loss.at(-1)!;
      log(
        `${run.label}: ${outcome.iterations} iterations + evaluation in ${outcome.seconds.toFixed(1)} s on ${outcome.evaluation.backend}; ` +
          `held-out loss after ${final.step} steps ${final.mean.toFixed(4)} ± ${final.ci95.toFixed(4)} (${run.outDir})`,
      );
    },
  );

  const backend = await useBackend(config.backend, { skipKernels: config.skipKernels });
  const data = await summarise(config, arms, runs, outcomes, registry, {
    title: options.title ?? `Concord: ${options.preset ?? "experiment"}`,
    preset: options.preset ?? "config",
    backend,
  });
  writeResultsJson(options.outDir, data);
  // Loaded here: the report's Vega modules are needed by comparisons only, not by every importer of the runner.
  const { writeReport } = await import("@concord/report/node");
  const written = await writeReport(options.outDir, data);
  return {
    arms: [...data.arms],
    table: formatResultsTable(data.arms),
    htmlPath: written.htmlPath,
    images: written.images,
    outDir: options.outDir,
    wallTimeSeconds: (performance.now() - started) / 1000,
  };
}
