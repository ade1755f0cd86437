import { existsSync } from "node:fs";
import { join, relative, resolve, sep } from "node:path";
import { ConcordError } from "@concord/core";
import type { EvaluationResult } from "@concord/algorithms";
import { METRICS_FILE, RunFolder, type RunPlan, type RunScheduler } from "@concord/runner";
import { type Job, Queue, QueueEvents } from "bullmq";
import { Redis } from "ioredis";
import { bullConnection, checkRedis, parseRedisUrl } from "./connection.js";
import { checkEvictionPolicy } from "./eviction-policy.js";
import { DEFAULT_MAX_ATTEMPTS, describeFailedJob } from "./failed-job.js";
import { runJobPayload } from "./job.js";
import { claimRunFolders, releaseRunFolders, runIdentity } from "./run-identity.js";
import { DEFAULT_QUEUE_NAME } from "./queue-name.js";
import type { RunJobResult } from "./worker.js";

export interface QueueSchedulerOptions {
  /** redis:// or rediss:// URL, password included when the server has one. */
  readonly url: string;
  /** The store folder as this machine sees it; every run folder must lie inside it. */
  readonly store: string;
  readonly queueName?: string;
  /** Starts of a run's job that may end in an error before it fails (deaths of workers count on the workers' --max-attempts). Default 3. */
  readonly maxAttempts?: number;
  /** Receives progress lines (jobs queued, jobs resumed). Default: stderr. */
  readonly log?: (line: string) => void;
  /** Run on a Redis whose maxmemory-policy may evict keys (warning instead of refusal). Default false. */
  readonly allowEviction?: boolean;
}

/**
 * A compare scheduler that trains on `concord worker` processes: one BullMQ job per planned run
 * (its config, seed and folder relative to the store), then waits for all of them. Each run folder
 * ends exactly as `concord train` leaves it, so compareExperiment's summary reads it unchanged.
 * Any failed job fails the comparison with every failure named.
 */
export function queueScheduler(options: QueueSchedulerOptions): RunScheduler {
  return async (runs, scheduleOptions, done) => {
    const target = parseRedisUrl(options.url);
    const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
    const store = resolve(options.store);
    const folders = runs.map((run) => storeFolder(store, run));
    for (const run of runs) {
      const folder = new RunFolder(run.outDir);
      if (!scheduleOptions.resume && (folder.hasCheckpoint() || existsSync(join(run.outDir, METRICS_FILE)))) {
        throw new ConcordError(`${run.outDir} already holds a run; pass --resume to continue it, or choose another --out`, { field: "--out" });
      }
    }
    await checkRedis(target);
    await checkEvictionPolicy(target, { allowEviction: options.allowEviction === true, warn: log });
    const queueName = options.queueName ?? DEFAULT_QUEUE_NAME;
    const identities = runs.map((run, i) => runIdentity(store, folders[i]!, run.config));
    // Workers write `<their store>/<folder>`: one comparison at a time may own a folder, whatever
    // store path its coordinator sees. Refused here, before any job is added.
    const redis = new Redis({ ...target.options, maxRetriesPerRequest: 3 });
    redis.on("error", () => {});
    try {
      await claimRunFolders(redis, identities);
    } catch (error) {
      redis.disconnect();
      throw error;
    }
    const queue = new Queue(queueName, { connection: bullConnection(target) });
    const events = new QueueEvents(queueName, { connection: bullConnection(target) });
    let finished = false;
    try {
      await events.waitUntilReady();
      // One job id per (store, folder, config): a coordinator started again (--resume) joins a run still
      // queued or running instead of adding a second job that would train into the same folder at the same time.
      const ids = identities.map((identity) => identity.jobId);
      for (const id of ids) {
        const previous = await queue.getJob(id);
        // A finished job of the same run (an earlier comparison, or this one before --resume) is added
        // again: the run resumes at its last iteration and only evaluates.
        if (previous && ((await previous.isFailed()) || (await previous.isCompleted()))) await previous.remove();
      }
      const maxAttempts = options.maxAttempts ?? DEFAULT_MAX_ATTEMPTS;
      const jobSpec = (i: number) => ({
        name: runs[i]!.label,
        data: runJobPayload(runs[i]!, folders[i]!),
        // Retries are for crashes; a refused payload fails at once (UnrecoverableError on the worker).
        // Finished jobs are kept a while, so that a job gone from Redis means lost, never "finished and removed".
        opts: { jobId: ids[i]!, attempts: maxAttempts, removeOnComplete: { age: 24 * 3600 }, removeOnFail: { age: 7 * 24 * 3600 } },
      });
      const jobs = await queue.addBulk(runs.map((_, i) => jobSpec(i)));
      log(`queued ${jobs.length} runs on ${target.display} (queue ${queueName}); waiting for \`concord worker\` processes`);
      const failures: string[] = [];
      await Promise.all(
        jobs.map(async (job, i) => {
          const run = runs[i]!;
          try {
            // A lost job is added again (its folder claimed again first): a worker still training the
            // lost one is fenced off the folder by the epoch the new start writes into its lease.
            const readd = async () => {
              await claimRunFolders(redis, [identities[i]!]);
              const again = await queue.add(jobSpec(i).name, jobSpec(i).data, jobSpec(i).opts);
              log(
                `re-added ${run.label}: its job ${ids[i]} was gone from Redis (FLUSHALL, eviction or a restart without persistence); it resumes from its checkpoint`,
              );
              return again;
            };
            const result = (await waitForRun(job, events, queue, readd, maxAttempts)) as RunJobResult;
            const { iteration, ...evaluation } = new RunFolder(run.outDir).readEvaluation();
            done(run, { evaluation: evaluation as EvaluationResult, iterations: iteration ?? result.iterations, seconds: result.seconds });
          } catch (error) {
            const failed = error instanceof LostJob ? undefined : await queue.getJob(ids[i]!).catch(() => undefined);
            const report = failed ? describeFailedJob(failed, ids[i]!) : ((error as Error).message ?? String(error));
            log(`failed: ${run.label}: ${report}`);
            failures.push(`${run.label}: ${report}`);
          }
        }),
      );
      if (failures.length > 0) throw new ConcordError(failures.join("; "), { field: "compare" });
      finished = true;
    } finally {
      await events.close();
      await queue.close();
      // Kept when the comparison did not finish: `compare --resume` of the same one re-joins it.
      if (finished) await releaseRunFolders(redis, identities).catch(() => {});
      redis.disconnect();
    }
  };
}

/** A run's job vanished from Redis before it finished. */
class LostJob extends Error {}

/**
 * The job's return value once it completes. Also checks every second that Redis still holds the job:
 * one gone before it finished was lost (FLUSHALL, eviction, a restart without persistence), and
 * waiting for its events would wait for ever. A lost job is added again (`readd`) up to `maxReadds`
 * times; then the run fails with LostJob.
 */
async function waitForRun(job: Job, events: QueueEvents, queue: Queue, readd: () => Promise<Job>, maxReadds: number): Promise<unknown> {
  let current = job;
  for (let readds = 0; ; readds++) {
    let settled = false;
    const lost = (async () => {
      while (!settled) {
        await new Promise((resolve) => setTimeout(resolve, 1000));
        if (!settled && (await queue.getJobState(current.id!)) === "unknown") return true;
      }
      return false;
    })();
    let outcome: { value: unknown } | true;
    try {
      outcome = await Promise.race([
        current.waitUntilFinished(events).then((value: unknown) => ({ value })),
        lost.then((gone) => gone || { value: undefined }),
      ]);
    } finally {
      settled = true;
    }
    if (outcome !== true) return outcome.value;
    if (readds >= maxReadds) {
      throw new LostJob(
        `its job ${job.id} is gone from Redis before it finished (FLUSHALL, eviction or a restart without persistence), ${readds + 1} times; the run folder keeps its last checkpoint: run the comparison again with --resume`,
      );
    }
    current = await readd();
  }
}

/** The run's folder relative to the store (workers write `<their store>/<this>`). */
function storeFolder(store: string, run: RunPlan): string {
  const path = relative(store, resolve(run.outDir));
  if (path === "" || path.startsWith("..") || path.startsWith(sep)) {
    throw new ConcordError(`expected the comparison's --out folder inside the store ${store}, got ${run.outDir}`, { field: "--store" });
  }
  return path.split(sep).join("/");
}
