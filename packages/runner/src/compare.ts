import { spawn } from "node:child_process";
import { existsSync, mkdirSync, readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { ConcordError, disposeParams } from "@concord/core";
import { useBackend } from "@concord/backend";
import { createRegistry } from "./builtins.js";
import { CHECKPOINT_FILE, disposeCheckpoint, loadCheckpoint, writeFileAtomicSync } from "./checkpoint.js";
import { configToJson, type ExperimentConfig, type PluginSpec } from "./config.js";
import { combineEvaluations, type EvaluationResult } from "./evaluate.js";
import { METRICS_FILE, readMetrics } from "./metrics-log.js";
import type { ProgressMode } from "./progress.js";
import type { Registry } from "./registry.js";
import { type CurvePoint, type ReportArm, type ReportData, type SinusoidFit, sinusoidFits, type WeightSnapshot, writeReport } from "./report/index.js";
import { createParts, EVALUATION_FILE, runExperiment } from "./run.js";
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
  /** Plug-in files the registry was loaded from (passed on to parallel runs). */
  readonly pluginFiles?: readonly string[];
  readonly progress?: ProgressMode;
  /** Continue runs that have a checkpoint; start the others. */
  readonly resume?: boolean;
  /**
   * Runs trained at once, each in its own `concord train` process (wasm is single-threaded, so
   * two cores train two runs). Default 1 (in this process). Results do not depend on it.
   */
  readonly jobs?: number;
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

interface RunPlan {
  readonly arm: ArmPlan;
  readonly seed: number;
  readonly config: ExperimentConfig;
  readonly outDir: string;
  readonly label: string;
}

interface RunOutcome {
  readonly evaluation: EvaluationResult;
  readonly seconds: number;
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
  const arms = planArms(config, options.weightings, options.algorithms ?? [config.algorithm.name]);
  // Refuse a bad arm before any run starts.
  for (const arm of arms) {
    registry.create("algorithm", arm.algorithm, `--algorithms ${arm.algorithm.name}`);
    registry.create("weighting", arm.weighting, `--weighting ${arm.weighting.name}`);
  }
  const seeds = Array.from({ length: options.seeds }, (_, k) => config.seed + k);
  const runs: RunPlan[] = arms.flatMap((arm) =>
    seeds.map((seed) => ({
      arm,
      seed,
      config: { ...config, seed, algorithm: arm.algorithm, weighting: arm.weighting },
      outDir: join(options.outDir, arm.name, `seed-${seed}`),
      label: `${arm.name} seed ${seed}`,
    })),
  );

  const outcomes = new Map<RunPlan, RunOutcome>();
  const report = (run: RunPlan, outcome: RunOutcome, iterations: number) => {
    outcomes.set(run, outcome);
    const final = outcome.evaluation.loss.at(-1)!;
    log(
      `${run.label}: ${iterations} iterations + evaluation in ${outcome.seconds.toFixed(1)} s on ${outcome.evaluation.backend}; ` +
        `held-out loss after ${final.step} steps ${final.mean.toFixed(4)} ± ${final.ci95.toFixed(4)} (${run.outDir})`,
    );
  };
  const jobs = Math.min(options.jobs ?? 1, runs.length);
  const bin = jobs > 1 ? builtCli() : undefined;
  if (bin) {
    await runInChildren(runs, jobs, bin, options, (run, outcome) => report(run, outcome, run.config.iterations));
  } else {
    for (const run of runs) {
      const runStarted = performance.now();
      const result = await runExperiment(run.config, {
        outDir: run.outDir,
        registry,
        resume: Boolean(options.resume) && existsSync(join(run.outDir, CHECKPOINT_FILE)),
        label: run.label,
        ...(options.progress ? { progress: options.progress } : {}),
      });
      disposeParams(result.params);
      report(run, { evaluation: result.evaluation!, seconds: (performance.now() - runStarted) / 1000 }, result.iteration);
    }
  }

  const backend = await useBackend(config.backend);
  const reportArms: ReportArm[] = [];
  for (const arm of arms) {
    const armRuns = runs.filter((run) => run.arm === arm);
    const curves: CurvePoint[][] = [];
    let weightSnapshots: WeightSnapshot[] = [];
    for (const [index, run] of armRuns.entries()) {
      const records = readMetrics(join(run.outDir, METRICS_FILE));
      curves.push(
        records.map((record) => ({
          iteration: record.iteration,
          queryLossAfter: record.queryLossAfter ?? Number.NaN,
          queryLossBefore: record.queryLossBefore ?? Number.NaN,
        })),
      );
      if (index === 0) weightSnapshots = snapshots(records, 40);
    }
    const fits = config.tasks.name === "sinusoid" ? await fitsOf(armRuns[0]!, registry, options.fits ?? 4) : undefined;
    reportArms.push({
      name: arm.name,
      algorithm: arm.algorithm.name,
      weighting: arm.weighting.name,
      seeds,
      curves,
      weightSnapshots,
      evaluation: combineEvaluations(armRuns.map((run) => outcomes.get(run)!.evaluation)),
      wallTimeSeconds: armRuns.reduce((total, run) => total + outcomes.get(run)!.seconds, 0),
      ...(fits ? { fits } : {}),
    });
  }

  const data: ReportData = {
    title: options.title ?? `Concord: ${options.preset ?? "experiment"}`,
    preset: options.preset ?? "config",
    backend: [...new Set(runs.map((run) => outcomes.get(run)!.evaluation.backend))].join(",") || backend,
    createdAt: new Date().toISOString(),
    iterations: config.iterations,
    metaBatchSize: config.metaBatchSize,
    config: configToJson(config),
    arms: reportArms,
  };
  writeFileAtomicSync(join(options.outDir, "results.json"), [`${JSON.stringify(summarise(data), null, 2)}\n`]);
  const written = await writeReport(options.outDir, data);
  return {
    arms: reportArms,
    table: formatResultsTable(reportArms),
    htmlPath: written.htmlPath,
    images: written.images,
    outDir: options.outDir,
    wallTimeSeconds: (performance.now() - started) / 1000,
  };
}

/** Sinusoid fits of a run's final parameters (read back from its checkpoint). */
async function fitsOf(run: RunPlan, registry: Registry, count: number): Promise<SinusoidFit[]> {
  const parts = await createParts(run.config, registry);
  const checkpoint = loadCheckpoint(join(run.outDir, CHECKPOINT_FILE));
  try {
    return sinusoidFits(checkpoint.params, {
      model: parts.model,
      objective: parts.objective,
      innerOptimizer: parts.innerOptimizer,
      steps: run.config.evaluation.innerSteps,
      count,
      seed: run.config.evaluation.seed,
    });
  } finally {
    disposeCheckpoint(checkpoint);
  }
}

/** dist/cli.js beside this module when running from the build (not from sources under vitest). */
function builtCli(): string | undefined {
  const path = fileURLToPath(new URL("./cli.js", import.meta.url));
  return existsSync(path) ? path : undefined;
}

/** Trains the runs `jobs` at a time, each as `node cli.js train <config> --out <dir>`. */
async function runInChildren(
  runs: readonly RunPlan[],
  jobs: number,
  bin: string,
  options: CompareOptions,
  done: (run: RunPlan, outcome: RunOutcome) => void,
): Promise<void> {
  const queue = [...runs];
  const failures: string[] = [];
  const worker = async () => {
    for (let run = queue.shift(); run && failures.length === 0; run = queue.shift()) {
      mkdirSync(dirname(run.outDir), { recursive: true });
      const configPath = `${run.outDir}.config.json`;
      writeFileAtomicSync(configPath, [`${JSON.stringify(configToJson(run.config), null, 2)}\n`]);
      const resume = Boolean(options.resume) && existsSync(join(run.outDir, CHECKPOINT_FILE));
      const args = [
        bin,
        "train",
        configPath,
        "--out",
        run.outDir,
        "--label",
        run.label,
        "--progress",
        options.progress === "none" ? "none" : "lines",
        ...(resume ? ["--resume"] : []),
        ...(options.pluginFiles ?? []).flatMap((file) => ["--plugin", resolve(file)]),
      ];
      const runStarted = performance.now();
      const { code, stderr } = await spawnRun(args);
      if (code !== 0) {
        failures.push(`${run.label}: ${stderr.trim().split("\n").at(-1) ?? `exit code ${code}`}`);
        return;
      }
      const evaluation = JSON.parse(readFileSync(join(run.outDir, EVALUATION_FILE), "utf8")) as EvaluationResult;
      done(run, { evaluation, seconds: (performance.now() - runStarted) / 1000 });
    }
  };
  await Promise.all(Array.from({ length: jobs }, worker));
  if (failures.length > 0) throw new ConcordError(failures.join("; "), { field: "compare" });
}

/** Runs the CLI in a child process, passing its progress lines through to our stderr. */
function spawnRun(args: readonly string[]): Promise<{ code: number; stderr: string }> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, args, { stdio: ["ignore", "ignore", "pipe"] });
    let stderr = "";
    child.stderr.setEncoding("utf8");
    child.stderr.on("data", (chunk: string) => {
      stderr += chunk;
      process.stderr.write(chunk);
    });
    child.on("error", reject);
    child.on("close", (code) => resolvePromise({ code: code ?? 1, stderr }));
  });
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
