import { basename, join } from "node:path";
import type { BackendChoice } from "@concord/backend";
import { ConcordError, disposeParams } from "@concord/core";
import { createRegistry, loadPlugins, type ProgressMode, runExperiment } from "@concord/runner";
import { type Command, Option } from "commander";
import {
  applyOverrides,
  backendOption,
  type CliIo,
  collect,
  formatEvaluation,
  integerArgument,
  progressOption,
  resolveConfig,
  resolveOut,
} from "./arguments.js";
import { allowEvictionOption, loadDistributed, queueFileOption, queueOption, queueUrl } from "./distributed.js";

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
  queue?: string | boolean;
  queueFile?: string;
  chunkTasks?: string;
  queueTimeout?: string;
  chunkDeadline?: string;
  allowEviction?: boolean;
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
    .addOption(
      queueOption("compute each meta-batch's tasks on `concord worker` processes (needs @concord/distributed; per-task execution, same parameters as without)"),
    )
    .addOption(queueFileOption())
    .option("--chunk-tasks <n>", "with --queue: tasks per job (default: the meta-batch in 8 chunks)")
    .option("--queue-timeout <s>", "with --queue: stop (checkpoint kept, --resume continues) when Redis is unreachable this long", "60")
    .option(
      "--chunk-deadline <s>",
      "with --queue: a worker gives up a chunk it has computed this long (default: 10 min for the first step, then 20× the previous step's slowest chunk, at least 60 s)",
    )
    .addOption(allowEvictionOption())
    .addOption(new Option("--label <text>", "name shown in progress output").hideHelp())
    .action(async (given: string | undefined, options: TrainCommandOptions) => {
      if (options.resume && !options.out) throw new ConcordError("expected the --out folder of the run to resume, got nothing", { field: "--resume" });
      if (given === undefined && !options.resume) throw new ConcordError("expected a config file or preset name, got nothing", { field: "config" });
      const source = given ?? join(options.out!, "config.json");
      const registry = createRegistry();
      await loadPlugins(registry, options.plugin, io.cwd);
      const loaded = applyOverrides(await resolveConfig(source, io.cwd, registry), options, io.cwd);
      const chosen =
        options.weighting && options.weighting !== loaded.weighting.name ? { ...loaded, weighting: { name: options.weighting, options: {} } } : loaded;
      const queue = queueUrl(options, io.cwd, process.env, (line) => io.stderr(`${line}\n`));
      if (!queue && (options.chunkTasks !== undefined || options.queueTimeout !== "60" || options.chunkDeadline !== undefined || options.allowEviction)) {
        const field =
          options.chunkTasks !== undefined
            ? "--chunk-tasks"
            : options.queueTimeout !== "60"
              ? "--queue-timeout"
              : options.chunkDeadline !== undefined
                ? "--chunk-deadline"
                : "--allow-eviction";
        throw new ConcordError("--chunk-tasks, --queue-timeout, --chunk-deadline and --allow-eviction only apply with --queue", { field });
      }
      const distributed = queue ? await loadDistributed() : undefined;
      const config = distributed ? distributed.queueTrainConfig(chosen) : chosen;
      const outDir = resolveOut(options.out, source, io.cwd);
      let pool: Awaited<ReturnType<NonNullable<typeof distributed>["createQueuePool"]>> | undefined;
      if (distributed) {
        const timeoutSeconds = Number(options.queueTimeout);
        if (!Number.isFinite(timeoutSeconds) || timeoutSeconds <= 0)
          throw new ConcordError(`expected a positive number of seconds, got ${JSON.stringify(options.queueTimeout)}`, { field: "--queue-timeout" });
        const chunkDeadlineSeconds = options.chunkDeadline === undefined ? undefined : Number(options.chunkDeadline);
        if (chunkDeadlineSeconds !== undefined && !(Number.isFinite(chunkDeadlineSeconds) && chunkDeadlineSeconds > 0)) {
          throw new ConcordError(`expected a positive number of seconds, got ${JSON.stringify(options.chunkDeadline)}`, { field: "--chunk-deadline" });
        }
        pool = await distributed.createQueuePool({
          url: queue!,
          config,
          timeoutSeconds,
          ...(chunkDeadlineSeconds !== undefined ? { chunkDeadlineSeconds } : {}),
          allowEviction: Boolean(options.allowEviction),
          log: (line) => io.stderr(`${line}\n`),
          ...(options.chunkTasks !== undefined ? { chunkTasks: integerArgument(options.chunkTasks, "--chunk-tasks", 1) } : {}),
        });
      }
      let result: Awaited<ReturnType<typeof runExperiment>>;
      try {
        result = await runExperiment(config, {
          outDir,
          registry,
          resume: Boolean(options.resume),
          label: options.label ?? basename(outDir),
          progress: options.progress as ProgressMode,
          ...(pool ? { pool } : {}),
        });
      } finally {
        await pool?.close();
      }
      try {
        io.stdout(`trained ${result.iteration} iterations on ${result.backend} in ${result.trainSeconds.toFixed(1)} s; checkpoint ${result.checkpointPath}\n`);
        if (pool) {
          const stats = pool.stats();
          if (stats.steps === 0 && result.iteration > 0 && !options.resume) {
            throw new ConcordError(`the algorithm '${config.algorithm.name}' computed its tasks itself: it takes no task pool (maml, fomaml and reptile do)`, {
              field: "--queue",
            });
          }
          const perStep = (bytes: number) => (stats.steps > 0 ? (bytes / stats.steps / 1024).toFixed(1) : "0");
          io.stdout(
            `queue: ${stats.steps} meta-steps through Redis; per step ${perStep(stats.bytesDown)} KiB to workers, ${perStep(stats.bytesUp)} KiB back; ` +
              `${stats.takenOver} chunks taken over from dead workers, ${stats.resubmitted} resubmitted after Redis lost them; ` +
              `${stats.steps > 0 ? ((stats.seconds / stats.steps) * 1000).toFixed(1) : "0"} ms per step on the queue\n`,
          );
        }
        if (result.evaluation) io.stdout(formatEvaluation(result.evaluation));
      } finally {
        disposeParams(result.params);
      }
    });
}
