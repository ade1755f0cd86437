import { ConcordError } from "@concord/core";
import { createRegistry, loadPlugins } from "@concord/runner";
import { type Command, Option } from "commander";
import { type CliIo, collect, integerArgument, resolvePath } from "./arguments.js";
import { allowEvictionOption, loadDistributed, QUEUE_URL_ENV, queueFileOption, queueOption, queueUrl } from "./distributed.js";

interface WorkerCommandOptions {
  queue?: string | boolean;
  queueFile?: string;
  store: string;
  data: string[];
  plugin: string[];
  concurrency: string;
  lockSeconds: string;
  maxAttempts: string;
  logChunks?: boolean;
  allowEviction?: boolean;
}

/**
 * `concord worker --queue redis://…`: trains runs queued by `concord compare --queue` and computes task
 * chunks of `concord train --queue`, until SIGINT/SIGTERM.
 */
export function addWorkerCommand(program: Command, io: CliIo, signals: { once(signal: "SIGINT" | "SIGTERM", listener: () => void): unknown } = process): void {
  program
    .command("worker")
    .description(
      "train runs queued by `concord compare --queue` and compute the task chunks of `concord train --queue` (any number of workers, on any machine); a dead worker's work is redone by another",
    )
    .addOption(queueOption("take jobs"))
    .addOption(queueFileOption())
    .addOption(allowEvictionOption())
    .option("--store <dir>", "folder the run folders are written under; shared storage, the same folder the coordinator's --out lies in", "runs")
    .option(
      "--data <dir>",
      "a data folder jobs may name (repeatable): any folder or file a job's plug-in options name (Omniglot's dataDir, cacheDir) must lie inside --store or one of these",
      collect,
      [],
    )
    .option("--plugin <file>", "ES module registering plug-ins (repeatable); jobs can use only these and the built-ins", collect, [])
    .option("--concurrency <n>", "runs trained at once, one thread each", "1")
    .option("--lock-seconds <s>", "job lock lifetime: a dead worker's run or task chunk is taken over after about twice this", "5")
    .option("--max-attempts <n>", "starts of a run or chunk, including those whose worker died holding it (out of memory), before it fails for good", "3")
    .addOption(new Option("--log-chunks", "log a line as each data-parallel chunk starts").hideHelp())
    .action(async (options: WorkerCommandOptions) => {
      const url = queueUrl(options, io.cwd, process.env, (line) => io.stderr(`${line}\n`));
      if (url === undefined)
        throw new ConcordError(`expected the Redis URL: --queue <url>, a bare --queue with $${QUEUE_URL_ENV} set, or --queue-file <file>`, {
          field: "--queue",
        });
      const concurrency = integerArgument(options.concurrency, "--concurrency", 1);
      const maxAttempts = integerArgument(options.maxAttempts, "--max-attempts", 1);
      const lockSeconds = Number(options.lockSeconds);
      if (!Number.isFinite(lockSeconds) || lockSeconds < 0.5) {
        throw new ConcordError(`expected a number of seconds >= 0.5, got ${JSON.stringify(options.lockSeconds)}`, { field: "--lock-seconds" });
      }
      const registry = createRegistry();
      await loadPlugins(registry, options.plugin, io.cwd);
      const { startWorker } = await loadDistributed();
      const worker = await startWorker({
        url,
        store: resolvePath(io.cwd, options.store),
        dataDirs: options.data.map((dir) => resolvePath(io.cwd, dir)),
        registry,
        pluginFiles: options.plugin.map((file) => resolvePath(io.cwd, file)),
        concurrency,
        lockSeconds,
        maxAttempts,
        logChunks: Boolean(options.logChunks),
        allowEviction: Boolean(options.allowEviction),
        log: (line) => io.stderr(`${line}\n`),
      });
      await new Promise<void>((resolvePromise) => {
        const stop = () => resolvePromise();
        signals.once("SIGINT", stop);
        signals.once("SIGTERM", stop);
      });
      io.stderr("worker: stopping after the running jobs\n");
      await worker.close();
    });
}
