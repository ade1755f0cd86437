#!/usr/bin/env node
import { existsSync, realpathSync } from "node:fs";
import { availableParallelism } from "node:os";
import { basename, extname, join } from "node:path";
import { pathToFileURL } from "node:url";
import { ConcordError, disposeParams } from "@concord/core";
import * as tf from "@tensorflow/tfjs-core";
import { Command, CommanderError, Option } from "commander";
import { BACKEND_CHOICES, type BackendChoice, useBackend } from "./backend.js";
import { createRegistry } from "./builtins.js";
import { disposeCheckpoint, loadCheckpoint } from "./checkpoint.js";
import { type ExperimentConfig, loadConfigFile, withDataDir, withOverrides } from "./config.js";
import { evaluate } from "./evaluate.js";
import { registerExportCommand } from "./commands/export.js";
import { loadPlugins } from "./plugins.js";
import { PRESETS, presetConfig } from "./presets.js";
import type { ProgressMode } from "./progress.js";
import { checkpointConfig, createParts, evaluationSpec, runExperiment, TrainingDiverged } from "./run.js";
import { describeValue } from "./schema-errors.js";

/** Exit codes: 0 ok, 1 runtime failure (divergence, crash), 2 bad input. */
export const EXIT_OK = 0;
export const EXIT_FAILURE = 1;
export const EXIT_BAD_INPUT = 2;

export interface CliIo {
  readonly stdout: (text: string) => void;
  readonly stderr: (text: string) => void;
  readonly cwd: string;
}

const defaultIo: CliIo = {
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
  cwd: process.cwd(),
};

/** Runs the `concord` command line; resolves to the exit code (never calls process.exit). */
export async function runCli(argv: readonly string[], io: CliIo = defaultIo): Promise<number> {
  const program = buildProgram(io);
  try {
    await program.parseAsync([...argv], { from: "user" });
  } catch (error) {
    if (error instanceof CommanderError) return error.exitCode === 0 ? EXIT_OK : EXIT_BAD_INPUT;
    if (error instanceof TrainingDiverged) {
      io.stderr(`concord: ${error.message}\n`);
      return EXIT_FAILURE;
    }
    if (error instanceof ConcordError) {
      io.stderr(`concord: ${error.message}\n`);
      return EXIT_BAD_INPUT;
    }
    io.stderr(`concord: failed: ${(error as Error)?.message ?? String(error)}\n`);
    if (process.env.CONCORD_DEBUG) io.stderr(`${(error as Error)?.stack ?? ""}\n`);
    return EXIT_FAILURE;
  }
  return EXIT_OK;
}

function buildProgram(io: CliIo): Command {
  const program = new Command("concord")
    .description("Meta-learning with gradient agreement on TensorFlow.js: train, evaluate and compare")
    .showSuggestionAfterError(true)
    .exitOverride()
    .configureOutput({
      writeOut: io.stdout,
      writeErr: io.stderr,
      outputError: (text, write) => write(`concord: ${oneLine(text.replace(/^error: /, ""))}\n`),
    });

  const backendOption = () => new Option("--backend <name>", "tf backend: auto (wasm, else cpu), cpu or wasm").choices(BACKEND_CHOICES);
  const progressOption = () =>
    new Option("--progress <mode>", "progress display: auto (bar on a terminal, lines otherwise), bar, lines, none").choices(["auto", "bar", "lines", "none"]).default("auto");
  const collect = (value: string, previous: string[]) => [...previous, value];

  program
    .command("train")
    .description("train one config (a .json/.yaml file or a preset name) with checkpoints and metrics, then evaluate")
    .argument("[config]", "config file or preset name (see `concord presets`); with --resume, default: the run's config.json")
    .option("--out <dir>", "output folder (default: runs/<name>-<timestamp>)")
    .option("--resume", "continue the run in --out from its checkpoint (bit-identical to an uninterrupted run)")
    .option("--plugin <file>", "ES module registering plug-ins (repeatable)", collect, [])
    .option("--iterations <n>", "override the config's iterations")
    .option("--seed <n>", "override the config's seed")
    .option("--weighting <name>", "override the config's weighting scheme (e.g. agreement, or one from --plugin)")
    .option("--data <dir>", "data folder of the task family (sets tasks.dataDir and evaluation.sampler.dataDir)")
    .addOption(backendOption())
    .addOption(progressOption())
    .addOption(new Option("--label <text>", "name shown in progress output").hideHelp())
    .action(async (given: string | undefined, options: TrainCommandOptions) => {
      if (options.resume && !options.out) throw new ConcordError("expected the --out folder of the run to resume, got nothing", { field: "--resume" });
      if (given === undefined && !options.resume) throw new ConcordError("expected a config file or preset name, got nothing", { field: "config" });
      const source = given ?? join(options.out!, "config.json");
      const registry = createRegistry();
      await loadPlugins(registry, options.plugin, io.cwd);
      const loaded = applyOverrides(await resolveConfig(source, io.cwd), options, io.cwd);
      const config =
        options.weighting && options.weighting !== loaded.weighting.name ? { ...loaded, weighting: { name: options.weighting, options: {} } } : loaded;
      const outDir = resolveOut(options.out, source, io.cwd);
      const result = await runExperiment(config, {
        outDir,
        registry,
        resume: Boolean(options.resume),
        label: options.label ?? basename(outDir),
        progress: options.progress as ProgressMode,
      });
      try {
        io.stdout(`trained ${result.iteration} iterations on ${result.backend} in ${result.trainSeconds.toFixed(1)} s; checkpoint ${result.checkpointPath}\n`);
        if (result.evaluation) io.stdout(formatEvaluation(result.evaluation));
      } finally {
        disposeParams(result.params);
      }
    });

  program
    .command("eval")
    .description("evaluate a checkpoint on the held-out task set: mean query loss ± 95% CI after 0..S inner steps")
    .argument("<checkpoint>", "checkpoint file (checkpoint.ckpt in a run folder)")
    .option("--tasks <n>", "held-out tasks (default: the config's evaluation.tasks)")
    .option("--steps <s>", "inner steps 0..S (default: the config's evaluation.innerSteps)")
    .option("--plugin <file>", "ES module registering plug-ins (repeatable)", collect, [])
    .option("--data <dir>", "data folder of the task family (sets evaluation.sampler.dataDir)")
    .addOption(backendOption())
    .action(async (path: string, options: { tasks?: string; steps?: string; plugin: string[]; data?: string; backend?: BackendChoice }) => {
      const taskCount = options.tasks === undefined ? undefined : integerArgument(options.tasks, "--tasks", 2);
      const steps = options.steps === undefined ? undefined : integerArgument(options.steps, "--steps", 0);
      const registry = createRegistry();
      await loadPlugins(registry, options.plugin, io.cwd);
      const checkpoint = loadCheckpoint(resolvePath(io.cwd, path));
      try {
        const saved = checkpointConfig(checkpoint, path);
        const config = options.data ? withDataDir(saved, resolvePath(io.cwd, options.data)) : saved;
        const backend = await useBackend(options.backend ?? (checkpoint.backend as BackendChoice));
        const parts = await createParts(config, registry);
        const evaluation = evaluate(checkpoint.params, {
          model: parts.model,
          objective: parts.objective,
          innerOptimizer: parts.innerOptimizer,
          sampler: parts.evaluationSampler,
          taskCount: taskCount ?? config.evaluation.tasks,
          maxInnerSteps: steps ?? config.evaluation.innerSteps,
          seed: config.evaluation.seed,
          ...(config.evaluation.chunkSize !== undefined ? { chunkSize: config.evaluation.chunkSize } : {}),
        });
        io.stdout(`checkpoint ${path}: iteration ${checkpoint.iteration}, evaluated on ${backend} (${evaluationSpec(config).name} tasks, seed ${config.evaluation.seed})\n`);
        io.stdout(formatEvaluation(evaluation));
      } finally {
        disposeCheckpoint(checkpoint);
      }
    });

  program
    .command("compare")
    .description("run every algorithm × weighting arm with the same seeds and task stream; print the results table and write report.html")
    .argument("<config>", "config file or preset name")
    .requiredOption("--weighting <names>", "comma-separated weighting schemes, e.g. uniform,agreement")
    .option("--algorithms <names>", "comma-separated algorithms, e.g. maml,reptile (default: the config's)")
    .option("--seeds <n>", "number of seeds (config.seed, config.seed + 1, …)", "1")
    .option("--out <dir>", "output folder (default: runs/compare-<name>-<timestamp>)")
    .option("--resume", "continue the runs in --out that have a checkpoint")
    .option("--plugin <file>", "ES module registering plug-ins (repeatable)", collect, [])
    .option("--iterations <n>", "override the config's iterations")
    .option("--seed <n>", "override the first seed")
    .option("--jobs <n>", "runs trained at once, one process each (default: the number of cores)")
    .option("--data <dir>", "data folder of the task family (sets tasks.dataDir and evaluation.sampler.dataDir)")
    .addOption(backendOption())
    .addOption(progressOption())
    .action(async (source: string, options: CompareCommandOptions) => {
      if (options.resume && !options.out) throw new ConcordError("expected the --out folder of the comparison to resume, got nothing", { field: "--resume" });
      const seeds = integerArgument(options.seeds, "--seeds", 1);
      const jobs = options.jobs === undefined ? availableParallelism() : integerArgument(options.jobs, "--jobs", 1);
      const weightings = listArgument(options.weighting, "--weighting");
      const algorithms = options.algorithms === undefined ? undefined : listArgument(options.algorithms, "--algorithms");
      const registry = createRegistry();
      await loadPlugins(registry, options.plugin, io.cwd);
      const config = applyOverrides(await resolveConfig(source, io.cwd), options, io.cwd);
      const outDir = resolveOut(options.out, `compare-${source}`, io.cwd);
      const { compareExperiment } = await import("./compare.js");
      const result = await compareExperiment(config, {
        weightings,
        ...(algorithms ? { algorithms } : {}),
        seeds,
        outDir,
        registry,
        pluginFiles: options.plugin.map((file) => resolvePath(io.cwd, file)),
        jobs,
        resume: Boolean(options.resume),
        progress: options.progress as ProgressMode,
        preset: sourceName(source),
        log: (line) => io.stderr(`${line}\n`),
      });
      io.stdout(`${result.table}\n`);
      io.stdout(`report: ${result.htmlPath}\nwall time: ${result.wallTimeSeconds.toFixed(1)} s\n`);
    });

  program
    .command("presets")
    .description("list the built-in presets")
    .action(() => {
      const width = Math.max(...PRESETS.map((preset) => preset.name.length));
      for (const preset of PRESETS) io.stdout(`${preset.name.padEnd(width)}  ${preset.description}\n`);
    });

  registerExportCommand(program, io);
  return program;
}

interface TrainCommandOptions {
  out?: string;
  weighting?: string;
  data?: string;
  resume?: boolean;
  plugin: string[];
  iterations?: string;
  seed?: string;
  backend?: BackendChoice;
  progress: string;
  label?: string;
}

interface CompareCommandOptions extends Omit<TrainCommandOptions, "weighting"> {
  weighting: string;
  algorithms?: string;
  seeds: string;
  jobs?: string;
}

/** A preset name, or a path to a .json/.yaml/.yml file. */
async function resolveConfig(source: string, cwd: string): Promise<ExperimentConfig> {
  const extension = extname(source).toLowerCase();
  const path = resolvePath(cwd, source);
  if ([".json", ".yaml", ".yml"].includes(extension) || existsSync(path)) return loadConfigFile(path);
  return presetConfig(source);
}

function applyOverrides(config: ExperimentConfig, options: { iterations?: string; seed?: string; backend?: string; data?: string }, cwd: string): ExperimentConfig {
  const withData = options.data ? withDataDir(config, resolvePath(cwd, options.data)) : config;
  return withOverrides(withData, {
    ...(options.iterations !== undefined ? { iterations: integerArgument(options.iterations, "--iterations", 0) } : {}),
    ...(options.seed !== undefined ? { seed: integerArgument(options.seed, "--seed") } : {}),
    ...(options.backend !== undefined ? { backend: options.backend } : {}),
  });
}

function integerArgument(text: string, field: string, min = Number.NEGATIVE_INFINITY): number {
  const value = /^[+-]?\d+$/.test(text.trim()) ? Number(text) : Number.NaN;
  if (!Number.isSafeInteger(value) || value < min) {
    throw new ConcordError(`expected an integer${min > Number.NEGATIVE_INFINITY ? ` >= ${min}` : ""}, got ${describeValue(text)}`, { field });
  }
  return value;
}

function listArgument(text: string, field: string): string[] {
  const items = text.split(",").map((item) => item.trim());
  if (items.length === 0 || items.some((item) => item.length === 0)) {
    throw new ConcordError(`expected comma-separated names, got ${describeValue(text)}`, { field });
  }
  return items;
}

function resolveOut(out: string | undefined, source: string, cwd: string): string {
  if (out) return resolvePath(cwd, out);
  const stamp = new Date().toISOString().replace(/[-:]/g, "").replace(/\..*$/, "").replace("T", "-");
  return resolvePath(cwd, join("runs", `${sourceName(source)}-${stamp}`));
}

function sourceName(source: string): string {
  return basename(source, extname(source));
}

function resolvePath(cwd: string, path: string): string {
  return path.startsWith("/") ? path : join(cwd, path);
}

function formatEvaluation(evaluation: { taskCount: number; loss: { step: number; mean: number; ci95: number }[]; backend: string }): string {
  const lines = [`held-out query loss over ${evaluation.taskCount} tasks (${evaluation.backend}), mean ± 95% CI:`];
  for (const { step, mean, ci95 } of evaluation.loss) lines.push(`  ${String(step).padStart(3)} steps: ${mean.toFixed(4)} ± ${ci95.toFixed(4)}`);
  return `${lines.join("\n")}\n`;
}

/** Commander's messages on one line ("(Did you mean train?)" moves up). */
function oneLine(text: string): string {
  return text
    .trim()
    .replace(/\s*\n\s*\(Did you mean (.*)\?\)/, ' (did you mean "$1"?)')
    .replace(/\s*\n\s*/g, " ");
}

function isMain(): boolean {
  const entry = process.argv[1];
  if (!entry) return false;
  try {
    return import.meta.url === pathToFileURL(realpathSync(entry)).href;
  } catch {
    return false;
  }
}

if (isMain()) {
  // A command line has no use for tfjs's console banners ("install our node backend").
  tf.env().set("PROD", true);
  runCli(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (error: unknown) => {
      process.stderr.write(`concord: failed: ${String(error)}\n`);
      process.exitCode = EXIT_FAILURE;
    },
  );
}
