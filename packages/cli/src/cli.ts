#!/usr/bin/env node
import { ConcordError } from "@concord/core";
import { isEntryModule, TrainingDiverged } from "@concord/runner";
import * as tf from "@tensorflow/tfjs-core";
import { Command, CommanderError } from "commander";
import type { CliIo } from "./commands/arguments.js";
import { addCompareCommand } from "./commands/compare.js";
import { addEvalCommand } from "./commands/eval.js";
import { addPairedCommand } from "./commands/paired.js";
import { addPresetsCommand } from "./commands/presets.js";
import { addTrainCommand } from "./commands/train.js";
import { registerExportCommand } from "./commands/export.js";
import { addWorkerCommand } from "./commands/worker.js";

export type { CliIo } from "./commands/arguments.js";

/** Exit codes: 0 ok, 1 runtime failure (divergence, crash), 2 bad input. */
export const EXIT_OK = 0;
export const EXIT_FAILURE = 1;
export const EXIT_BAD_INPUT = 2;

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
  addTrainCommand(program, io);
  addEvalCommand(program, io);
  addCompareCommand(program, io);
  addPairedCommand(program, io);
  addPresetsCommand(program, io);
  addWorkerCommand(program, io);
  registerExportCommand(program, io);
  return program;
}

/** Commander's messages on one line ("(Did you mean train?)" moves up). */
function oneLine(text: string): string {
  return text
    .trim()
    .replace(/\s*\n\s*\(Did you mean (.*)\?\)/, ' (did you mean "$1"?)')
    .replace(/\s*\n\s*/g, " ");
}

if (isEntryModule(import.meta.url)) {
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
