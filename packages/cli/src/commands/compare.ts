import { availableParallelism } from "node:os";
import { dirname } from "node:path";
import { ConcordError } from "@concord/core";
import { compareExperiment, createRegistry, loadPlugins, type ProgressMode } from "@concord/runner";
import type { Command } from "commander";
import type { TrainCommandOptions } from "./train.js";
import {
  applyOverrides,
  backendOption,
  type CliIo,
  collect,
  integerArgument,
  listArgument,
  progressOption,
  resolveConfig,
  resolveOut,
  resolvePath,
  sourceName,
} from "./arguments.js";
import { allowEvictionOption, loadDistributed, queueFileOption, queueOption, queueUrl } from "./distributed.js";

interface CompareCommandOptions extends Omit<TrainCommandOptions, "weighting"> {
  weighting: string;
  algorithms?: string;
  seeds: string;
  jobs?: string;
  queue?: string | boolean;
  queueFile?: string;
  store?: string;
}

/** `concord compare <config|preset> --weighting a,b [--algorithms x,y]`: every arm on the same seeds, the table and report.html. */
export function addCompareCommand(program: Command, io: CliIo): void {
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
    .addOption(queueOption("train on `concord worker` processes (needs @concord/distributed)"))
    .addOption(queueFileOption())
    .addOption(allowEvictionOption())
    .option("--store <dir>", "with --queue: the shared folder workers write under (default: --out's parent); --out must lie inside it")
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
      const config = applyOverrides(await resolveConfig(source, io.cwd, registry), options, io.cwd);
      const queue = queueUrl(options, io.cwd, process.env, (line) => io.stderr(`${line}\n`));
      if (options.store && !queue) throw new ConcordError("--store only applies with --queue", { field: "--store" });
      const outDir = resolveOut(options.out, `compare-${source}`, io.cwd);
      const scheduler = queue
        ? (await loadDistributed()).queueScheduler({
            url: queue,
            store: options.store ? resolvePath(io.cwd, options.store) : dirname(outDir),
            log: (line) => io.stderr(`${line}\n`),
            allowEviction: Boolean(options.allowEviction),
          })
        : undefined;
      const result = await compareExperiment(config, {
        weightings,
        ...(algorithms ? { algorithms } : {}),
        seeds,
        outDir,
        registry,
        pluginFiles: options.plugin.map((file) => resolvePath(io.cwd, file)),
        jobs,
        resume: Boolean(options.resume),
        ...(scheduler ? { scheduler } : {}),
        progress: options.progress as ProgressMode,
        preset: sourceName(source),
        log: (line) => io.stderr(`${line}\n`),
      });
      io.stdout(`${result.table}\n`);
      io.stdout(`report: ${result.htmlPath}\nwall time: ${result.wallTimeSeconds.toFixed(1)} s\n`);
    });
}
