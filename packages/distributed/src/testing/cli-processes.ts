// The built `concord` CLI as separate processes, for the tests: workers, coordinators, final parameters.
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { disposeCheckpoint, loadCheckpoint } from "@concord/runner";

/**
 * The built CLI of the workspace. @concord/cli depends on this package, so it cannot be a
 * devDependency here (a cycle); these end-to-end tests run the workspace's build of it, as
 * `pnpm test` leaves it (it builds every package before any test runs).
 */
export const CLI = fileURLToPath(new URL("../../../cli/dist/cli.js", import.meta.url));

if (!existsSync(CLI))
  throw new Error(`the end-to-end tests run the built concord CLI, which is missing: build it first (npx tsc -b packages/cli), looked at ${CLI}`);

export interface CliProcess {
  readonly child: ChildProcess;
  /** Everything written to stderr so far. */
  readonly output: () => string;
  readonly stdout: () => string;
  /** Resolves with the exit code (null when killed by a signal). */
  readonly exited: Promise<number | null>;
}

export function startCli(args: readonly string[], env?: Readonly<Record<string, string>>): CliProcess {
  const child = spawn(process.execPath, [CLI, ...args], { stdio: ["ignore", "pipe", "pipe"], ...(env ? { env: { ...process.env, ...env } } : {}) });
  let output = "";
  let stdout = "";
  child.stderr!.on("data", (chunk: Buffer) => {
    output += chunk.toString();
  });
  child.stdout!.on("data", (chunk: Buffer) => {
    stdout += chunk.toString();
  });
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  return { child, output: () => output, stdout: () => stdout, exited };
}

export interface WorkerProcess extends CliProcess {
  readonly ready: Promise<void>;
}

/** `concord worker` with a 1 s job lock (a dead worker's job is taken over within about 2 s). */
export function startWorkerProcess(url: string, store: string, extra: readonly string[] = []): WorkerProcess {
  const process_ = startCli(["worker", "--queue", url, "--store", store, "--lock-seconds", "1", ...extra]);
  const ready = waitFor(
    () => process_.output().includes("worker: waiting for runs"),
    60_000,
    () => `worker did not start: ${process_.output()}`,
    process_.exited,
  );
  ready.catch(() => {});
  return { ...process_, ready };
}

/** Polls `condition` every 20 ms; rejects after `timeoutMs` or when `exited` settles first. */
export async function waitFor(condition: () => boolean, timeoutMs: number, message: () => string, exited?: Promise<unknown>): Promise<void> {
  let gone = false;
  exited?.then(() => {
    gone = true;
  });
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (gone) throw new Error(`process exited: ${message()}`);
    if (Date.now() > deadline) throw new Error(`timed out: ${message()}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** A checkpoint's parameters as plain numbers (compared with toEqual: bit for bit, NaN included). */
export function finalParams(path: string): Record<string, number[]> {
  const checkpoint = loadCheckpoint(path);
  try {
    return Object.fromEntries(Object.entries(checkpoint.params).map(([name, tensor]) => [name, Array.from(tensor.dataSync())]));
  } finally {
    disposeCheckpoint(checkpoint);
  }
}
