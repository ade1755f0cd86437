import { isAbsolute, join } from "node:path";
import { useBackend } from "@concord/backend";
import { exportCheckpoint } from "@concord/runner";
import type { Command } from "commander";
import type { CliIo } from "./arguments.js";

/** Adds `concord export <checkpoint> --out <dir>` to the command line. */
export function registerExportCommand(program: Command, io: Pick<CliIo, "stdout" | "cwd">): void {
  program
    .command("export")
    .description("write a checkpoint's meta-learned initialisation as a TensorFlow.js model.json + .bin export, ready for loadMetaModel() and adapt()")
    .argument("<checkpoint>", "checkpoint file (checkpoint.ckpt in a run folder)")
    .requiredOption("--out <dir>", "output folder (model.json and group1-shard*.bin)")
    .action(async (path: string, options: { out: string }) => {
      const resolve = (given: string) => (isAbsolute(given) ? given : join(io.cwd, given));
      // Only bytes are copied; cpu reads them exactly and needs no set-up.
      await useBackend("cpu");
      const result = await exportCheckpoint(resolve(path), resolve(options.out));
      const evaluated = result.spec.evaluation ? "with its evaluation" : "no evaluation of this iteration found";
      io.stdout(`exported iteration ${result.iteration} (${result.spec.model.name}, ${result.spec.innerSteps} inner steps; ${evaluated}):\n`);
      for (const file of result.files) io.stdout(`  ${file}\n`);
    });
}
