import { spawn } from "node:child_process";
import { existsSync, mkdirSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import type { EvaluationResult } from "@concord/algorithms";
import { ConcordError, disposeParams } from "@concord/core";
import { writeFileAtomicSync } from "../atomic-file.js";
import { configToJson } from "../config.js";
import type { ProgressMode } from "../progress.js";
import type { Registry } from "../registry.js";
import { runExperiment } from "../run-experiment.js";
import { RunFolder } from "../run-folder.js";
import { runProcessArguments } from "../run-process.js";
import type { RunPlan } from "./plan.js";

export interface RunOutcome {
  readonly evaluation: EvaluationResult;
  readonly iterations: number;
  readonly seconds: number;
}

export interface ScheduleOptions {
  readonly registry: Registry;
  /** Runs trained at once; above 1 (and when the built runner exists) each run is a child process of run-process.js. */
  readonly jobs: number;
  /** Plug-in files the registry was loaded from (passed on to child processes). */
  readonly pluginFiles?: readonly string[];
  readonly progress?: ProgressMode;
  /** Continue runs that have a checkpoint; start the others. */
  readonly resume?: boolean;
  /** The script each child process runs. Default: dist/run-process.js beside this module when running from the build. */
  readonly runProcess?: string;
}

/** Trains every planned run and calls `done` once per finished run (in any order). */
export type RunScheduler = (runs: readonly RunPlan[], options: ScheduleOptions, done: (run: RunPlan, outcome: RunOutcome) => void) => Promise<void>;

/**
 * Trains every planned run and reports each outcome as it finishes. One at a time in this process,
 * or `jobs` at a time as child processes (wasm is single-threaded, so two cores train two runs);
 * results do not depend on which.
 */
export async function scheduleRuns(runs: readonly RunPlan[], options: ScheduleOptions, done: (run: RunPlan, outcome: RunOutcome) => void): Promise<void> {
  const jobs = Math.min(options.jobs, runs.length);
  const script = jobs > 1 ? (options.runProcess ?? builtRunProcess()) : undefined;
  if (script) return runInChildren(runs, jobs, script, options, done);
  for (const run of runs) {
    if (reuseFinished(run, options, done)) continue;
    const started = performance.now();
    const result = await runExperiment(run.config, {
      outDir: run.outDir,
      registry: options.registry,
      resume: resumeOrRestart(run, options),
      label: run.label,
      ...(options.progress ? { progress: options.progress } : {}),
    });
    disposeParams(result.params);
    done(run, { evaluation: result.evaluation!, iterations: result.iteration, seconds: (performance.now() - started) / 1000 });
  }
}

/**
 * With `resume`, a run whose folder already holds its final evaluation under the same config (up to
 * logging and checkpoint cadence) is reported from that file (0 s) instead of being loaded and
 * evaluated again.
 */
function reuseFinished(run: RunPlan, options: ScheduleOptions, done: (run: RunPlan, outcome: RunOutcome) => void): boolean {
  if (!options.resume) return false;
  const finished = new RunFolder(run.outDir).finishedEvaluation(run.config);
  if (!finished) return false;
  const { iteration, ...evaluation } = finished;
  done(run, { evaluation: evaluation as EvaluationResult, iterations: iteration, seconds: 0 });
  return true;
}

/**
 * true: the run continues from its checkpoint; false: it starts. With `resume`, a run that stopped
 * before its first checkpoint starts again, after its partial metrics are set aside
 * (RunFolder.setAsideRunWithoutCheckpoint): so this decides and prepares, and is called once per run.
 */
function resumeOrRestart(run: RunPlan, options: Pick<ScheduleOptions, "resume">): boolean {
  if (!options.resume) return false;
  const folder = new RunFolder(run.outDir);
  if (folder.hasCheckpoint()) return true;
  folder.setAsideRunWithoutCheckpoint();
  return false;
}

/** dist/run-process.js beside this module when running from the build (not from sources under vitest). */
function builtRunProcess(): string | undefined {
  const path = fileURLToPath(new URL("../run-process.js", import.meta.url));
  return existsSync(path) ? path : undefined;
}

/** Trains the runs `jobs` at a time, each as `node run-process.js <config> --out <dir>` (see run-process.ts). */
async function runInChildren(
  runs: readonly RunPlan[],
  jobs: number,
  script: string,
  options: ScheduleOptions,
  done: (run: RunPlan, outcome: RunOutcome) => void,
): Promise<void> {
  const queue = [...runs];
  const failures: string[] = [];
  const worker = async () => {
    for (let run = queue.shift(); run && failures.length === 0; run = queue.shift()) {
      if (reuseFinished(run, options, done)) continue;
      mkdirSync(dirname(run.outDir), { recursive: true });
      const configPath = `${run.outDir}.config.json`;
      writeFileAtomicSync(configPath, [`${JSON.stringify(configToJson(run.config), null, 2)}\n`]);
      const folder = new RunFolder(run.outDir);
      const resume = resumeOrRestart(run, options);
      const args = [
        script,
        ...runProcessArguments({
          configPath,
          outDir: run.outDir,
          label: run.label,
          progress: options.progress === "none" ? "none" : "lines",
          resume,
          pluginFiles: (options.pluginFiles ?? []).map((file) => resolve(file)),
        }),
      ];
      const started = performance.now();
      const { code, stderr } = await spawnRun(args);
      if (code !== 0) {
        failures.push(`${run.label}: ${stderr.trim().split("\n").at(-1) ?? `exit code ${code}`}`);
        return;
      }
      const { iteration, ...evaluation } = folder.readEvaluation();
      done(run, { evaluation: evaluation as EvaluationResult, iterations: iteration ?? run.config.iterations, seconds: (performance.now() - started) / 1000 });
    }
  };
  await Promise.all(Array.from({ length: jobs }, worker));
  if (failures.length > 0) throw new ConcordError(failures.join("; "), { field: "compare" });
}

/** Runs one run's process, passing its progress lines through to our stderr. */
function spawnRun(args: readonly string[]): Promise<{ code: number; stderr: string }> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, args, { stdio: ["ignore", "ignore", "pipe"] });
    let stderr = "";
    child.stderr.setEncoding("utf8");
    child.stderr.on("data", (chunk: string) => {
      stderr += chunk;
      process.stderr.write(chunk);
    });
    child.on("error", reject);
    child.on("close", (code) => resolvePromise({ code: code ?? 1, stderr }));
  });
}
