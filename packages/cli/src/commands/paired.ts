import { readFileSync } from "node:fs";
import { type PairedDifference, type PairedStep, type PerTaskValues, pairedDifference } from "@concord/algorithms";
import { ConcordError } from "@concord/core";
import { writeFileAtomicSync } from "@concord/runner";
import type { Command } from "commander";
import { type CliIo, resolvePath } from "./arguments.js";

interface PerTaskRecord extends PerTaskValues {
  readonly checkpoint?: string;
  readonly iteration?: number;
  readonly evaluationSeed?: number;
}

/** `concord paired <a.json> <b.json>`: b − a on the same held-out tasks, from two `eval --per-task` records. */
export function addPairedCommand(program: Command, io: CliIo): void {
  program
    .command("paired")
    .description("paired difference b − a of two checkpoints' evaluations on the same held-out tasks (records of concord eval --json … --per-task)")
    .argument("<a>", "evaluation record of the baseline")
    .argument("<b>", "evaluation record compared with it")
    .option("--json <file>", "also write the paired difference to this JSON file")
    .action((pathA: string, pathB: string, options: { json?: string }) => {
      const a = readRecord(resolvePath(io.cwd, pathA), pathA);
      const b = readRecord(resolvePath(io.cwd, pathB), pathB);
      if (a.evaluationSeed !== b.evaluationSeed) {
        throw new ConcordError(`expected the held-out task set of ${pathA} (evaluation seed ${a.evaluationSeed}), got seed ${b.evaluationSeed}`, {
          field: pathB,
        });
      }
      let paired: PairedDifference;
      try {
        paired = pairedDifference(a, b);
      } catch (error) {
        throw new ConcordError(`cannot be paired with ${pathA}: ${(error as Error).message}`, { field: pathB, cause: error });
      }
      io.stdout(formatPaired(paired, `${describe(pathB, b)} − ${describe(pathA, a)}`));
      if (options.json) {
        const record = {
          a: { record: pathA, checkpoint: a.checkpoint, iteration: a.iteration },
          b: { record: pathB, checkpoint: b.checkpoint, iteration: b.iteration },
          ...paired,
        };
        writeFileAtomicSync(resolvePath(io.cwd, options.json), [`${JSON.stringify(record, null, 2)}\n`]);
      }
    });
}

function readRecord(file: string, path: string): PerTaskRecord {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (error) {
    throw new ConcordError(`expected an evaluation record, but it cannot be read (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`, {
      field: path,
      cause: error,
    });
  }
  let record: PerTaskRecord;
  try {
    record = JSON.parse(text) as PerTaskRecord;
  } catch (error) {
    throw new ConcordError(`expected an evaluation record in JSON, got a syntax error: ${(error as Error).message}`, { field: path, cause: error });
  }
  if (record === null || typeof record !== "object" || !Array.isArray(record.perTaskLoss)) {
    throw new ConcordError("expected per-task values (perTaskLoss): write the record with concord eval <checkpoint> --json <file> --per-task", { field: path });
  }
  return record;
}

function describe(path: string, record: PerTaskRecord): string {
  return record.iteration === undefined ? path : `${path} (iteration ${record.iteration})`;
}

/** Accuracy in percentage points when present, the query loss otherwise. */
export function formatPaired(paired: PairedDifference, title: string): string {
  const lines = [`paired difference over ${paired.taskCount} shared tasks, ${title}, mean ± 95% CI:`];
  const counts = (step: PairedStep) => `(above on ${step.above} tasks, below on ${step.below})`;
  paired.loss.forEach((loss, index) => {
    const accuracy = paired.accuracy?.[index];
    const accuracyText = accuracy ? `   accuracy ${signed(100 * accuracy.mean, 2)} ± ${(100 * accuracy.ci95).toFixed(2)} points ${counts(accuracy)}` : "";
    lines.push(`  ${String(loss.step).padStart(3)} steps: loss ${signed(loss.mean, 4)} ± ${loss.ci95.toFixed(4)}${accuracyText}`);
  });
  return `${lines.join("\n")}\n`;
}

function signed(value: number, digits: number): string {
  return `${value >= 0 ? "+" : "−"}${Math.abs(value).toFixed(digits)}`;
}
