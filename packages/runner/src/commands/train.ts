import { basename, join } from "node:path";
import { ConcordError, disposeParams } from "@concord/core";
import { type Command, Option } from "commander";
import type { BackendChoice } from "@concord/backend";
import { createRegistry } from "../builtins.js";
import { loadPlugins } from "../plugins.js";
import type { ProgressMode } from "../progress.js";
import { runExperiment } from "../run.js";
import { applyOverrides, backendOption, type CliIo, collect, formatEvaluation, progressOption, resolveConfig, resolveOut } from "./arguments.js";

export interface TrainCommandOptions {
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

/** `concord train <config|preset>`: one run with checkpoints and metrics, then its evaluation. */
export function addTrainCommand(program: Command, io: CliIo): void {
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
      const loaded = applyOverrides(await resolveConfig(source, io.cwd, registry), options, io.cwd);
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
}
