import { type BackendChoice, useBackend } from "@concord/backend";
import { ConcordError } from "@concord/core";
import {
  checkpointBackend,
  checkpointConfig,
  createParts,
  createRegistry,
  disposeCheckpoint,
  evaluateOnHeldOut,
  evaluationFamily,
  evaluationSummary,
  loadCheckpoint,
  loadPlugins,
  withDataDir,
  writeFileAtomicSync,
} from "@concord/runner";
import type { Command } from "commander";
import { backendOption, type CliIo, collect, formatEvaluation, integerArgument, resolvePath } from "./arguments.js";

interface EvalCommandOptions {
  tasks?: string;
  steps?: string;
  plugin: string[];
  data?: string;
  backend?: BackendChoice;
  json?: string;
  perTask?: boolean;
}

/** `concord eval <checkpoint>`: the held-out evaluation of a checkpoint's parameters. */
export function addEvalCommand(program: Command, io: CliIo): void {
  program
    .command("eval")
    .description("evaluate a checkpoint on the held-out task set: mean query loss ± 95% CI after 0..S inner steps")
    .argument("<checkpoint>", "checkpoint file (checkpoint.ckpt in a run folder)")
    .option("--tasks <n>", "held-out tasks (default: the config's evaluation.tasks)")
    .option("--steps <s>", "inner steps 0..S (default: the config's evaluation.innerSteps)")
    .option("--plugin <file>", "ES module registering plug-ins (repeatable)", collect, [])
    .option("--data <dir>", "data folder of the task family (sets evaluation.sampler.dataDir)")
    .option("--json <file>", "also write the evaluation (per-step statistics, no per-task values) to this JSON file")
    .option(
      "--per-task",
      "with --json: also write every task's query loss (and accuracy) at every step, for a paired comparison of checkpoints scored on the same tasks",
    )
    .addOption(backendOption())
    .action(async (path: string, options: EvalCommandOptions) => {
      if (options.perTask && !options.json) throw new ConcordError("expected --json <file> to write the per-task values to", { field: "--per-task" });
      const taskCount = options.tasks === undefined ? undefined : integerArgument(options.tasks, "--tasks", 2);
      const steps = options.steps === undefined ? undefined : integerArgument(options.steps, "--steps", 0);
      const registry = createRegistry();
      await loadPlugins(registry, options.plugin, io.cwd);
      const file = resolvePath(io.cwd, path);
      // The backend first: loading makes the parameters' tensors on the current one.
      const backend = await useBackend(options.backend ?? (checkpointBackend(file) as BackendChoice));
      const checkpoint = loadCheckpoint(file);
      try {
        const saved = checkpointConfig(checkpoint, path);
        const config = options.data ? withDataDir(saved, resolvePath(io.cwd, options.data)) : saved;
        const parts = await createParts(config, registry);
        const evaluation = evaluateOnHeldOut(checkpoint.params, parts, config, {
          ...(taskCount !== undefined ? { taskCount } : {}),
          ...(steps !== undefined ? { maxInnerSteps: steps } : {}),
        });
        io.stdout(
          `checkpoint ${path}: iteration ${checkpoint.iteration}, evaluated on ${backend} (${evaluationFamily(config).name} tasks, seed ${config.evaluation.seed})\n`,
        );
        io.stdout(formatEvaluation(evaluation));
        if (options.json) {
          // The seed names the held-out task set: two records are paired only when it and taskCount match.
          const scored = { checkpoint: path, iteration: checkpoint.iteration, evaluatedAt: new Date().toISOString(), evaluationSeed: config.evaluation.seed };
          const record = { ...scored, ...(options.perTask ? evaluation : evaluationSummary(evaluation)) };
          writeFileAtomicSync(resolvePath(io.cwd, options.json), [`${JSON.stringify(record, null, 2)}\n`]);
        }
      } finally {
        disposeCheckpoint(checkpoint);
      }
    });
}
