import { existsSync } from "node:fs";
import { join } from "node:path";
import { disposeParams } from "@concord/core";
import { createRegistry } from "./builtins.js";
import { CHECKPOINT_FILE, writeFileAtomicSync } from "./checkpoint.js";
import { configToJson, type ExperimentConfig, type PluginSpec } from "./config.js";
import { combineEvaluations, type EvaluationResult } from "./evaluate.js";
import { readMetrics } from "./metrics-log.js";
import type { ProgressMode } from "./progress.js";
import type { Registry } from "./registry.js";
import { type CurvePoint, type ReportArm, type ReportData, type SinusoidFit, sinusoidFits, type WeightSnapshot, writeReport } from "./report/index.js";
import { runExperiment } from "./run.js";
import { formatResultsTable } from "./table.js";

export interface CompareOptions {
  /** Weighting scheme names, one arm each (e.g. ["uniform", "agreement"]). */
  readonly weightings: readonly string[];
  /** Algorithm names (e.g. ["maml", "reptile"]). Default: the config's algorithm. */
  readonly algorithms?: readonly string[];
  /** Number of seeds: config.seed, config.seed + 1, …; every arm uses the same ones. */
  readonly seeds: number;
  readonly outDir: string;
  readonly registry?: Registry;
  readonly progress?: ProgressMode;
  /** Continue runs that have a checkpoint; start the others. */
  readonly resume?: boolean;
  /** Report title and the preset (or config file) name. */
  readonly title?: string;
  readonly preset?: string;
  /** Sinusoid fits drawn per arm (sinusoid tasks only). Default 4. */
  readonly fits?: number;
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

interface ArmPlan {
  readonly name: string;
  readonly algorithm: PluginSpec;
  readonly weighting: PluginSpec;
}

/**
 * Runs every (algorithm × weighting) arm with the same seeds. train() derives the initial θ and the
 * task stream from the seed alone, so every arm starts from the same θ and sees the same tasks;
 * every arm is evaluated on the same held-out set (evaluation.seed). Writes each run under
 * `<outDir>/<arm>/seed-<s>`, then results.json, report.html and the charts.
 */
export async function compareExperiment(config: ExperimentConfig, options: CompareOptions): Promise<CompareResult> {
  const registry = options.registry ?? createRegistry();
  const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const started = performance.now();
  const plans = planArms(config, options.weightings, options.algorithms ?? [config.algorithm.name]);
  // Refuse a bad arm before any run starts.
  for (const plan of plans) {
    registry.create("algorithm", plan.algorithm, `--algorithms ${plan.algorithm.name}`);
    registry.create("weighting", plan.weighting, `--weighting ${plan.weighting.name}`);
  }
  const seeds = Array.from({ length: options.seeds }, (_, k) => config.seed + k);
  const arms: ReportArm[] = [];
  let backend = "";

  for (const plan of plans) {
    const curves: CurvePoint[][] = [];
    const evaluations: EvaluationResult[] = [];
    let weightSnapshots: WeightSnapshot[] = [];
    let fits: SinusoidFit[] | undefined;
    let wallTimeSeconds = 0;
    for (const [index, seed] of seeds.entries()) {
      const runConfig: ExperimentConfig = { ...config, seed, algorithm: plan.algorithm, weighting: plan.weighting };
      const outDir = join(options.outDir, plan.name, `seed-${seed}`);
      const runStarted = performance.now();
      const result = await runExperiment(runConfig, {
        outDir,
        registry,
        resume: Boolean(options.resume) && existsSync(join(outDir, CHECKPOINT_FILE)),
        label: `${plan.name} seed ${seed}`,
        ...(options.progress ? { progress: options.progress } : {}),
      });
      try {
        backend = result.backend;
        const records = readMetrics(result.metricsPath);
        curves.push(
          records.map((record) => ({
            iteration: record.iteration,
            queryLossAfter: record.queryLossAfter ?? Number.NaN,
            queryLossBefore: record.queryLossBefore ?? Number.NaN,
          })),
        );
        if (index === 0) {
          weightSnapshots = snapshots(records, 40);
          if (config.tasks.name === "sinusoid") {
            fits = sinusoidFits(result.params, {
              model: result.model,
              objective: result.objective,
              innerOptimizer: result.innerOptimizer,
              steps: config.evaluation.innerSteps,
              count: options.fits ?? 4,
              seed: config.evaluation.seed,
            });
          }
        }
        evaluations.push(result.evaluation!);
        const final = result.evaluation!.loss.at(-1)!;
        const seconds = (performance.now() - runStarted) / 1000;
        wallTimeSeconds += seconds;
        log(
          `${plan.name} seed ${seed}: ${result.iteration} iterations in ${seconds.toFixed(1)} s on ${result.backend}; ` +
            `held-out loss after ${final.step} steps ${final.mean.toFixed(4)} ± ${final.ci95.toFixed(4)} (${outDir})`,
        );
      } finally {
        disposeParams(result.params);
      }
    }
    arms.push({
      name: plan.name,
      algorithm: plan.algorithm.name,
      weighting: plan.weighting.name,
      seeds,
      curves,
      weightSnapshots,
      evaluation: combineEvaluations(evaluations),
      wallTimeSeconds,
      ...(fits ? { fits } : {}),
    });
  }

  const data: ReportData = {
    title: options.title ?? `Concord: ${options.preset ?? "experiment"}`,
    preset: options.preset ?? "config",
    backend,
    createdAt: new Date().toISOString(),
    iterations: config.iterations,
    metaBatchSize: config.metaBatchSize,
    config: configToJson(config),
    arms,
  };
  writeFileAtomicSync(join(options.outDir, "results.json"), [`${JSON.stringify(summarise(data), null, 2)}\n`]);
  const report = await writeReport(options.outDir, data);
  return {
    arms,
    table: formatResultsTable(arms),
    htmlPath: report.htmlPath,
    images: report.images,
    outDir: options.outDir,
    wallTimeSeconds: (performance.now() - started) / 1000,
  };
}

/** The arms of a comparison: the config's own options for its algorithm/weighting, `compare.algorithms` for others. */
export function planArms(config: ExperimentConfig, weightings: readonly string[], algorithms: readonly string[]): ArmPlan[] {
  const plans: ArmPlan[] = [];
  for (const algorithmName of algorithms) {
    const base = config.algorithm.name === algorithmName ? config.algorithm.options : {};
    const algorithm: PluginSpec = { name: algorithmName, options: { ...base, ...(config.compare.algorithms[algorithmName] ?? {}) } };
    for (const weightingName of weightings) {
      const weighting: PluginSpec = config.weighting.name === weightingName ? config.weighting : { name: weightingName, options: {} };
      plans.push({ name: `${algorithmName}+${weightingName}`, algorithm, weighting });
    }
  }
  return plans;
}

/** About `count` evenly spaced iterations' task weights (the first and last included). */
function snapshots(records: readonly { iteration: number; weights: readonly number[] }[], count: number): WeightSnapshot[] {
  if (records.length === 0) return [];
  const stride = Math.max(1, Math.floor(records.length / count));
  const picked = records.filter((_, i) => i % stride === 0);
  if (picked.at(-1) !== records.at(-1)) picked.push(records.at(-1)!);
  return picked.map((record) => ({ iteration: record.iteration, weights: [...record.weights] }));
}

/** results.json: everything but per-task arrays and per-iteration curves. */
function summarise(data: ReportData): unknown {
  return {
    ...data,
    arms: data.arms.map(({ curves: _curves, weightSnapshots: _snapshots, fits: _fits, evaluation, ...arm }) => {
      const { perTaskLoss: _loss, perTaskAccuracy: _accuracy, ...summary } = evaluation;
      return { ...arm, evaluation: summary };
    }),
  };
}
