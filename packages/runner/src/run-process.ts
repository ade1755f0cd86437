// One planned run in its own process, for scheduleRuns with jobs > 1 (wasm is single-threaded, so two
// processes train two runs at once). The runner owns this entry so that a library call never depends
// on the command line above it:
//
//   node run-process.js <config.json> --out <dir> --label <text> --progress lines|none [--resume] [--plugin <file>]…
//
// It trains exactly as `concord train <config.json> --out <dir>` does (runExperiment on the same config
// and registry), leaves the same run folder, and exits 0, or 1 with one `concord: …` line on stderr.
import { parseArgs } from "node:util";
import { disposeParams } from "@concord/core";
import * as tf from "@tensorflow/tfjs-core";
import { createRegistry } from "./builtins.js";
import { loadConfigFile } from "./config.js";
import { loadPlugins } from "./plugins.js";
import type { ProgressMode } from "./progress.js";
import { runExperiment } from "./run-experiment.js";
import { isEntryModule } from "./entry-module.js";

/** The arguments scheduleRuns passes to a run's process. */
export function runProcessArguments(run: {
  configPath: string;
  outDir: string;
  label: string;
  progress: "lines" | "none";
  resume: boolean;
  pluginFiles: readonly string[];
}): string[] {
  return [
    run.configPath,
    "--out",
    run.outDir,
    "--label",
    run.label,
    "--progress",
    run.progress,
    ...(run.resume ? ["--resume"] : []),
    ...run.pluginFiles.flatMap((file) => ["--plugin", file]),
  ];
}

async function main(argv: readonly string[]): Promise<void> {
  const { values, positionals } = parseArgs({
    args: [...argv],
    allowPositionals: true,
    options: {
      out: { type: "string" },
      label: { type: "string" },
      progress: { type: "string", default: "lines" },
      resume: { type: "boolean", default: false },
      plugin: { type: "string", multiple: true, default: [] },
    },
  });
  const [configPath] = positionals;
  if (configPath === undefined || values.out === undefined)
    throw new Error("usage: run-process.js <config.json> --out <dir> [--label <text>] [--progress lines|none] [--resume] [--plugin <file>]…");
  const registry = createRegistry();
  await loadPlugins(registry, values.plugin);
  const result = await runExperiment(await loadConfigFile(configPath), {
    outDir: values.out,
    registry,
    resume: values.resume,
    label: values.label ?? values.out,
    progress: values.progress as ProgressMode,
  });
  disposeParams(result.params);
}

if (isEntryModule(import.meta.url)) {
  // No use for tfjs's console banners ("install our node backend") in a child's progress output.
  tf.env().set("PROD", true);
  main(process.argv.slice(2)).then(
    () => {
      process.exitCode = 0;
    },
    (error: unknown) => {
      process.stderr.write(`concord: ${(error as Error)?.message ?? String(error)}\n`);
      process.exitCode = 1;
    },
  );
}
