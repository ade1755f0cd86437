import { randomBytes } from "node:crypto";
import { receiveMessageOnPort, Worker as ThreadWorker } from "node:worker_threads";
import { MessageChannel } from "node:worker_threads";
import { ConcordError, type Params, type Task } from "@concord/core";
import { createTaskJob, type RunnableTaskPool, type TaskJobResult, type TaskPool } from "@concord/algorithms/node";
import { buildFingerprint, type ExperimentConfig } from "@concord/runner";
import { activeBackendChoice } from "@concord/backend";
import { pack, unpack } from "../binary.js";
import { DEFAULT_MAX_ATTEMPTS } from "../failed-job.js";
import { checkRedis, parseRedisUrl } from "../connection.js";
import { checkEvictionPolicy } from "../eviction-policy.js";
import { chunkDeadlineMs, MAX_CHUNK_DEADLINE_MS, MIN_CHUNK_DEADLINE_MS } from "./chunk-deadline.js";
import { type ChunkExpectation, checkChunkResult, paramLayout, sha256Hex } from "./chunk-result.js";
import { chunkRanges, configPayload, TASK_JOB_VERSION, TASK_QUEUE_NAME, type TaskChunkPayload, BLOB_TTL_MS } from "./protocol.js";
import type { RelayDispatch, RelayReply, RelayStart } from "./relay-messages.js";

export interface QueuePoolOptions {
  /** redis:// or rediss:// URL, password included when the server has one. */
  readonly url: string;
  /** The run's config: workers build the model, objective and inner optimizer from it. */
  readonly config: ExperimentConfig;
  /** Tasks per job. Default: the meta-batch split into 8 chunks (results do not depend on it). */
  readonly chunkTasks?: number;
  /** Fail the meta-step (the run stops, its last checkpoint intact) when Redis is unreachable this long. Default 60 s. */
  readonly timeoutSeconds?: number;
  readonly queueName?: string;
  /** Starts of a chunk's job that may end in an error before the meta-step fails. Default 3. */
  readonly maxAttempts?: number;
  /**
   * Seconds a worker may compute one chunk before it stops its compute thread and fails the attempt
   * (`--chunk-deadline`). Default: derived from the work (see chunkDeadlineMs: 10 minutes for the
   * first step, then 20 times the previous step's slowest chunk, at least 60 s).
   */
  readonly chunkDeadlineSeconds?: number;
  /** Run on a Redis whose maxmemory-policy may evict keys (warning instead of refusal). Default false. */
  readonly allowEviction?: boolean;
  /** Receives warnings. Default: stderr. */
  readonly log?: (line: string) => void;
}

/** Bytes through Redis, summed over the meta-steps so far. */
export interface QueuePoolStats {
  readonly steps: number;
  /** θ, tasks and job payloads written by the coordinator. */
  readonly bytesDown: number;
  /** Results read back by the coordinator. */
  readonly bytesUp: number;
  /** Chunks added again after Redis came back without them. */
  readonly resubmitted: number;
  /** Chunks whose worker died while holding them (redone by another worker). */
  readonly takenOver: number;
  /** Wall time inside the pool (packing, Redis, the workers' compute, unpacking): the distributed part of each meta-step. */
  readonly seconds: number;
}

export interface QueuePool extends TaskPool {
  stats(): QueuePoolStats;
}

/**
 * A task pool whose tasks are computed by `concord worker` processes through Redis: each meta-step
 * of per-task execution becomes one BullMQ job per chunk of tasks, with θ and the tasks as raw
 * float32 bytes. Workers run the same per-task code as the worker-thread pool (runTaskJob) and the
 * meta-step places results by task index and reduces them in task order, so parameters equal the
 * single-process per-task run's bit for bit, whatever the number of workers or chunks.
 */
export async function createQueuePool(options: QueuePoolOptions): Promise<QueuePool> {
  const target = parseRedisUrl(options.url);
  await checkRedis(target);
  const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  await checkEvictionPolicy(target, { allowEviction: options.allowEviction === true, warn: log });
  const explicitDeadlineMs = options.chunkDeadlineSeconds === undefined ? undefined : Math.round(options.chunkDeadlineSeconds * 1000);
  if (explicitDeadlineMs !== undefined && !(explicitDeadlineMs >= MIN_CHUNK_DEADLINE_MS && explicitDeadlineMs <= MAX_CHUNK_DEADLINE_MS)) {
    throw new ConcordError(`expected ${MIN_CHUNK_DEADLINE_MS / 1000} to ${MAX_CHUNK_DEADLINE_MS / 1000} seconds, got ${options.chunkDeadlineSeconds}`, {
      field: "--chunk-deadline",
    });
  }
  const timeoutMs = Math.round((options.timeoutSeconds ?? 60) * 1000);
  if (!(timeoutMs >= 100)) throw new ConcordError(`expected at least 0.1 seconds, got ${options.timeoutSeconds}`, { field: "timeoutSeconds" });
  if (options.chunkTasks !== undefined && !(Number.isSafeInteger(options.chunkTasks) && options.chunkTasks >= 1)) {
    throw new ConcordError(`expected an integer >= 1, got ${options.chunkTasks}`, { field: "chunkTasks" });
  }
  if (options.maxAttempts !== undefined && !(Number.isSafeInteger(options.maxAttempts) && options.maxAttempts >= 1)) {
    throw new ConcordError(`expected an integer >= 1, got ${options.maxAttempts}`, { field: "maxAttempts" });
  }
  const session = randomBytes(12).toString("hex");
  const config = configPayload(options.config);
  const build = buildFingerprint();
  const signal = new Int32Array(new SharedArrayBuffer(4));
  const { port1, port2 } = new MessageChannel();
  const start: RelayStart = {
    url: options.url,
    queueName: options.queueName ?? TASK_QUEUE_NAME,
    timeoutMs,
    ttlMs: BLOB_TTL_MS,
    maxAttempts: options.maxAttempts ?? DEFAULT_MAX_ATTEMPTS,
    signal,
  };
  const relay = new ThreadWorker(relayUrl(), { workerData: start, execArgv: [] });
  relay.unref();
  await new Promise<void>((resolve, reject) => {
    relay.once("message", (message: { ready: boolean; message?: string }) =>
      message.ready ? resolve() : reject(new ConcordError(`could not reach the queue: ${message.message}`, { field: "--queue" })),
    );
    relay.once("error", (error) => reject(new ConcordError(`the queue relay failed to start: ${error.message}`, { field: "--queue" })));
  });
  // Replies come on a dedicated port so the training thread can read them synchronously.
  relay.postMessage({ port: port2 }, [port2]);
  let step = 0;
  let closed = false;
  let previousSlowestMs: number | undefined;
  const totals = { steps: 0, bytesDown: 0, bytesUp: 0, resubmitted: 0, takenOver: 0, seconds: 0 };

  const pool: RunnableTaskPool & QueuePool = {
    // Any number of remote workers; the meta-step only asks whether the pool shares tasks out (> 1).
    threads: Number.POSITIVE_INFINITY,
    // Whatever the meta-step runs on (read at use: the pool is made before useBackend runs); each
    // chunk names it and workers compute on the same one.
    get backend() {
      return activeBackendChoice();
    },
    stats: () => ({ ...totals }),
    async close() {
      if (closed) return;
      closed = true;
      relay.postMessage("close");
      await new Promise<void>((resolve) => {
        const timer = setTimeout(() => relay.terminate().then(() => resolve()), 5000);
        relay.once("exit", () => {
          clearTimeout(timer);
          resolve();
        });
      });
      port1.close();
    },
    dispatch(params: Params, tasks: readonly Task[], kind, adaptOptions) {
      if (closed) throw new ConcordError("the queue pool was closed", { field: "pool" });
      const backend = activeBackendChoice();
      if (backend !== "cpu" && backend !== "wasm" && backend !== "webgl" && backend !== "native")
        throw new ConcordError(`unsupported backend '${backend}'`, { field: "pool" });
      const started = performance.now();
      const job = createTaskJob(params, tasks, kind, adaptOptions);
      const size = options.chunkTasks ?? Math.max(1, Math.ceil(tasks.length / 8));
      const thisStep = step++;
      const deadlineMs = chunkDeadlineMs(explicitDeadlineMs, previousSlowestMs);
      const chunks = chunkRanges(tasks.length, size).map(([begin, end], chunk) => {
        const payload: TaskChunkPayload = {
          version: TASK_JOB_VERSION,
          build,
          config,
          backend,
          session,
          step: thisStep,
          chunk,
          start: begin,
          end,
          taskCount: tasks.length,
          kind,
          innerSteps: job.innerSteps,
          adapt: job.adapt as TaskChunkPayload["adapt"],
          names: job.names,
          deadlineMs,
        };
        return { payload, tasks: new Uint8Array(pack(job.tasks.slice(begin, end))) };
      });
      const dispatch: RelayDispatch = { step: thisStep, theta: new Uint8Array(pack(job.params)), chunks };
      // What each chunk's result must answer (checked before any of it becomes a tensor).
      const layout = paramLayout(job.params);
      const thetaDigest = sha256Hex(dispatch.theta);
      const expectations: ChunkExpectation[] = chunks.map(({ payload, tasks: bytes }) => ({
        payload,
        layout,
        inputs: { theta: thetaDigest, tasks: sha256Hex(bytes) },
      }));
      Atomics.store(signal, 0, 0);
      relay.postMessage(dispatch);
      return {
        // The coordinator computes no task itself: every task goes through the queue.
        claim: () => -1,
        wait: (): TaskJobResult[] => {
          let message = receiveMessageOnPort(port1);
          while (!message) {
            Atomics.wait(signal, 0, 0, 1000);
            message = receiveMessageOnPort(port1);
          }
          const reply = message.message as RelayReply;
          if (reply.step !== thisStep) throw new ConcordError(`the queue relay answered step ${reply.step}, expected ${thisStep}`, { field: "pool" });
          if (!reply.ok) throw new ConcordError(`meta-step on the queue failed: ${reply.message}`, { field: "--queue" });
          totals.steps += 1;
          totals.bytesDown += reply.bytesDown;
          totals.bytesUp += reply.bytesUp;
          totals.resubmitted += reply.resubmitted;
          totals.takenOver += reply.takenOver;
          previousSlowestMs = reply.slowestChunkMs;
          if (reply.results.length !== expectations.length)
            throw new ConcordError(`the queue relay returned ${reply.results.length} chunk results, expected ${expectations.length}`, { field: "pool" });
          const out = reply.results.map((bytes, chunk): TaskJobResult => {
            const expected = expectations[chunk]!;
            const field = `result of chunk ${expected.payload.chunk} of step ${thisStep}`;
            return checkChunkResult(unpack(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength), field), expected);
          });
          totals.seconds += (performance.now() - started) / 1000;
          return out;
        },
      };
    },
  };
  return pool;
}

function relayUrl(): URL {
  const here = new URL(import.meta.url);
  if (here.pathname.endsWith(".ts")) return new URL("../../dist/tasks/relay-thread.js", here);
  return new URL("./relay-thread.js", here);
}
