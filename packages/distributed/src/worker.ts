import { existsSync, mkdirSync, rmSync } from "node:fs";
import { hostname } from "node:os";
import { join, resolve } from "node:path";
import { Worker as ThreadWorker } from "node:worker_threads";
import { ConcordError } from "@concord/core";
import { buildFingerprint, checkpointBuild, configToJson, METRICS_FILE, type Registry, RunFolder, readLease, writeLease } from "@concord/runner";
import { type Job, UnrecoverableError, Worker } from "bullmq";
import { Redis } from "ioredis";
import { bullConnection, checkRedis, parseRedisUrl } from "./connection.js";
import { checkEvictionPolicy } from "./eviction-policy.js";
import { DEFAULT_MAX_ATTEMPTS } from "./failed-job.js";
import { validateRunJob } from "./job.js";
import { takeRunEpoch } from "./run-epoch.js";
import { describeFolders, type WorkerFolders, workerFolders } from "./job-paths.js";
import { DEFAULT_QUEUE_NAME } from "./queue-name.js";
import { startTaskWorker } from "./tasks/task-worker.js";
import type { TrainThreadInput, TrainThreadMessage } from "./train-thread.js";

export interface WorkerOptions {
  /** redis:// or rediss:// URL, password included when the server has one. */
  readonly url: string;
  /** Folder every run folder is written under (shared storage: the coordinator reads the results there). */
  readonly store: string;
  /**
   * Data folders jobs may name (`--data`): a plug-in option that names a folder or file (Omniglot's
   * dataDir and cacheDir) must lie inside one of these or the store. Default: none (the store only).
   */
  readonly dataDirs?: readonly string[];
  /** The registry jobs are checked against: built-ins plus this worker's --plugin files. */
  readonly registry: Registry;
  /** The same --plugin files, absolute (each training thread loads them itself). */
  readonly pluginFiles: readonly string[];
  /** Runs trained at once (one thread each). Default 1. */
  readonly concurrency?: number;
  /**
   * Seconds a job's lock lives without renewal (renewed every half of it while the job runs);
   * a job whose worker died is noticed as stalled within about twice this. Default 5.
   */
  readonly lockSeconds?: number;
  /**
   * Times a job may be started before it fails for good, counting starts whose worker died holding
   * it (a job that gets its worker OOM-killed is a poison job: it must not kill worker after worker).
   * Default DEFAULT_MAX_ATTEMPTS (3).
   */
  readonly maxAttempts?: number;
  readonly queueName?: string;
  /** Queue of data-parallel task chunks (`concord train --queue`). Default TASK_QUEUE_NAME. */
  readonly taskQueueName?: string;
  /** Log a line as each data-parallel chunk starts. */
  readonly logChunks?: boolean;
  readonly log?: (line: string) => void;
  /** Run on a Redis whose maxmemory-policy may evict keys (warning instead of refusal). Default false. */
  readonly allowEviction?: boolean;
}

/** The value a finished job returns to the coordinator. */
export interface RunJobResult {
  readonly iterations: number;
  readonly trainSeconds: number;
  readonly seconds: number;
  /** Whether this attempt continued from a checkpoint left by an earlier, interrupted attempt. */
  readonly resumed: boolean;
}

export interface RunningWorker {
  /** Stops taking jobs, waits for the running ones, disconnects. */
  close(): Promise<void>;
}

/**
 * `concord worker`: takes queued runs and trains each into `<store>/<job.outFolder>` with
 * checkpoints. A job whose folder holds a checkpoint (its previous worker died) is resumed from it,
 * so it ends bit-identical to an uninterrupted run. Bad jobs fail at once, without retries.
 */
export async function startWorker(options: WorkerOptions): Promise<RunningWorker> {
  const target = parseRedisUrl(options.url);
  await checkRedis(target);
  const lockMs = Math.round((options.lockSeconds ?? 5) * 1000);
  if (!(lockMs >= 500)) throw new ConcordError(`expected at least 0.5 seconds, got ${options.lockSeconds}`, { field: "--lock-seconds" });
  const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  await checkEvictionPolicy(target, { allowEviction: options.allowEviction === true, warn: log });
  const store = resolve(options.store);
  const folders = workerFolders(store, options.dataDirs ?? []);
  const maxAttempts = options.maxAttempts ?? DEFAULT_MAX_ATTEMPTS;
  if (!(Number.isSafeInteger(maxAttempts) && maxAttempts >= 1 && maxAttempts <= 100)) {
    throw new ConcordError(`expected an integer from 1 to 100, got ${options.maxAttempts}`, { field: "--max-attempts" });
  }

  const redis = new Redis({ ...target.options, maxRetriesPerRequest: 3 });
  redis.on("error", () => {});
  // The running runs' training threads, by job id: stopped at once when the job's lock is lost.
  const running = new Map<string, (reason: string) => void>();
  const context: RunContext = { options, folders, log, redis, running };
  const worker = new Worker(options.queueName ?? DEFAULT_QUEUE_NAME, (job: Job) => runJob(job, context), {
    connection: bullConnection(target),
    concurrency: options.concurrency ?? 1,
    lockDuration: lockMs,
    stalledInterval: lockMs,
    // A run is redone from its checkpoint each time its worker dies, up to the attempt limit: BullMQ
    // moves a job stalled more than maxStalledCount times to failed.
    maxStalledCount: maxAttempts - 1,
  });
  worker.on("error", (error) => log(`worker: ${error.message}`));
  // A lock that could not be renewed belongs to another worker by now (or to nobody): this one was
  // frozen, paused or cut off past --lock-seconds and the run may already be trained elsewhere.
  worker.on("lockRenewalFailed", (jobIds: string[]) => {
    for (const id of jobIds)
      running.get(id)?.(`lost the lock of job ${id} (frozen, paused or cut off from Redis longer than --lock-seconds); its training thread was stopped`);
  });
  await worker.waitUntilReady();
  const chunks = await startTaskWorker({
    target,
    registry: options.registry,
    pluginFiles: options.pluginFiles,
    folders,
    lockMs,
    maxAttempts,
    log,
    logChunks: options.logChunks === true,
    ...(options.taskQueueName ? { queueName: options.taskQueueName } : {}),
  });
  log(`worker: waiting for runs and task chunks on ${target.display} (${describeFolders(folders)})`);
  return {
    async close() {
      await Promise.all([worker.close(), chunks.close()]);
      redis.disconnect();
    },
  };
}

interface RunContext {
  readonly options: WorkerOptions;
  readonly folders: WorkerFolders;
  readonly log: (line: string) => void;
  readonly redis: Redis;
  readonly running: Map<string, (reason: string) => void>;
}

async function runJob(job: Job, { options, folders, log, redis, running }: RunContext): Promise<RunJobResult> {
  let checked: ReturnType<typeof validateRunJob>;
  try {
    checked = validateRunJob(job.data, options.registry, folders);
  } catch (error) {
    log(`worker: refused job ${job.id}: ${(error as Error).message}`);
    // Not retried: the same payload would be refused again.
    throw new UnrecoverableError((error as Error).message);
  }
  const outDir = join(folders.store, checked.outFolder);
  // This start's epoch, in Redis and in the folder's lease: a worker still training an earlier start
  // of this job (it lost the lock: SIGSTOP, GC pause, partition) writes nothing from now on.
  mkdirSync(outDir, { recursive: true });
  const epoch = await takeRunEpoch(redis, checked.outFolder, readLease(outDir)?.epoch ?? 0);
  writeLease(outDir, { epoch, host: hostname(), pid: process.pid, holder: `job ${job.id}`, since: new Date().toISOString() });
  const folder = new RunFolder(outDir);
  const resume = folder.hasCheckpoint();
  if (resume) {
    // Resuming code from another build would mix two builds' numbers in one run.
    const written = checkpointBuild(folder.checkpointPath);
    if (written !== buildFingerprint()) {
      const message = `job.build: the checkpoint in ${outDir} was written by Concord build ${written === undefined ? "(older than build fingerprints)" : `"${written}"`}, this worker is build "${buildFingerprint()}"; resume it with that build, or start the run again`;
      log(`worker: refused job ${job.id}: ${message}`);
      throw new UnrecoverableError(message);
    }
  }
  // Without a checkpoint, anything in the folder is from an attempt of this same job that died
  // before its first checkpoint: start over.
  if (!resume && existsSync(join(outDir, METRICS_FILE))) rmSync(join(outDir, METRICS_FILE));
  log(`worker: ${checked.label}: ${resume ? "resuming from its checkpoint" : "starting"} in ${outDir} (epoch ${epoch})`);
  const started = performance.now();
  const training = trainInThread({ config: configToJson(checked.config), outDir, epoch, resume, label: checked.label, pluginFiles: options.pluginFiles });
  running.set(job.id!, training.stop);
  const message = await training.result.finally(() => running.delete(job.id!));
  if (!message.ok) {
    log(`worker: ${checked.label} failed: ${message.message}`);
    throw message.badInput ? new UnrecoverableError(message.message) : new Error(message.message);
  }
  const seconds = (performance.now() - started) / 1000;
  log(`worker: ${checked.label}: done, ${message.iteration} iterations in ${seconds.toFixed(1)} s`);
  return { iterations: message.iteration, trainSeconds: message.trainSeconds, seconds, resumed: resume };
}

/** A run in its training thread: its outcome, and `stop(reason)`, which terminates the thread at once. */
function trainInThread(input: TrainThreadInput): { result: Promise<TrainThreadMessage>; stop: (reason: string) => void } {
  const thread = new ThreadWorker(new URL("./train-thread.js", import.meta.url), { workerData: input });
  let stop: (reason: string) => void = () => {};
  const result = new Promise<TrainThreadMessage>((resolvePromise) => {
    let settled = false;
    const settle = (message: TrainThreadMessage) => {
      if (settled) return;
      settled = true;
      resolvePromise(message);
    };
    thread.once("message", (message: TrainThreadMessage) => settle(message));
    thread.once("error", (error) => settle({ ok: false, message: error.message, badInput: false }));
    thread.once("exit", (code) => settle({ ok: false, message: `training thread exited with code ${code}`, badInput: false }));
    stop = (reason) => {
      settle({ ok: false, message: reason, badInput: false });
      thread.terminate().catch(() => {});
    };
  });
  return { result, stop: (reason) => stop(reason) };
}
