import { Worker as ThreadWorker } from "node:worker_threads";
import type { Registry } from "@concord/runner";
import { type Job, UnrecoverableError, Worker } from "bullmq";
import { Redis } from "ioredis";
import { bullConnection, type RedisTarget } from "../connection.js";
import type { WorkerFolders } from "../job-paths.js";
import type { ComputeReply, ComputeRequest } from "./compute-messages.js";
import { BLOB_TTL_MS, blobKeys, TASK_QUEUE_NAME, validateTaskChunk } from "./protocol.js";

export interface TaskWorkerOptions {
  readonly target: RedisTarget;
  readonly registry: Registry;
  readonly pluginFiles: readonly string[];
  /** The worker's store and data folders: the only ones a chunk's plug-in options may name. */
  readonly folders: WorkerFolders;
  /** Job lock lifetime; a dead worker's chunk goes back to the queue after about twice this. */
  readonly lockMs: number;
  /** Starts of a chunk, its worker's deaths included, before it fails for good. */
  readonly maxAttempts: number;
  readonly queueName?: string;
  readonly log: (line: string) => void;
  /** Log a line as each chunk starts (tests and debugging). */
  readonly logChunks?: boolean;
}

/**
 * Takes data-parallel chunks (from `concord train --queue`): reads θ and the chunk's tasks from
 * Redis, computes each task's results in a compute thread and writes them back as raw bytes.
 * A chunk's job is refused at once (no retries) when its payload is invalid or names a plug-in
 * this worker does not have; a computation past the chunk's deadline is stopped and the attempt fails.
 */
export async function startTaskWorker(options: TaskWorkerOptions): Promise<{ close(): Promise<void> }> {
  const redis = new Redis({ ...options.target.options, maxRetriesPerRequest: null });
  redis.on("error", () => {});
  let thread: ThreadWorker | undefined;
  let nextId = 0;
  const waiting = new Map<number, (reply: ComputeReply) => void>();
  const computeThread = () => {
    if (thread) return thread;
    // From sources (vitest) the thread runs the built module: plain Node cannot run TypeScript.
    const url = new URL(import.meta.url.endsWith(".ts") ? "../../dist/tasks/compute-thread.js" : "./compute-thread.js", import.meta.url);
    const created = new ThreadWorker(url, {
      execArgv: [],
      workerData: { pluginFiles: options.pluginFiles },
    });
    created.on("message", (reply: ComputeReply) => {
      waiting.get(reply.id)?.(reply);
      waiting.delete(reply.id);
    });
    created.on("error", (error) => {
      if (thread !== created) return; // a thread already given up (deadline): its chunk was answered
      for (const resolve of waiting.values()) resolve({ id: -1, ok: false, message: `compute thread failed: ${error.message}`, badInput: false });
      waiting.clear();
      thread = undefined;
    });
    thread = created;
    return created;
  };
  // θ is the same for every chunk of a step: fetched once per step.
  let cachedTheta: { key: string; bytes: Buffer } | undefined;

  const processChunk = async (job: Job) => {
    let chunk: ReturnType<typeof validateTaskChunk>;
    try {
      chunk = validateTaskChunk(job.data, options.registry, options.folders);
    } catch (error) {
      options.log(`worker: refused chunk ${job.id}: ${(error as Error).message}`);
      throw new UnrecoverableError((error as Error).message);
    }
    if (options.logChunks) options.log(`worker: chunk ${job.id} (tasks ${chunk.start}–${chunk.end - 1})`);
    const keys = blobKeys(chunk.session, chunk.step, chunk.chunk);
    const started = performance.now();
    const theta = cachedTheta?.key === keys.theta ? cachedTheta.bytes : await redis.getBuffer(keys.theta);
    const tasks = await redis.getBuffer(keys.tasks);
    // Missing right after a Redis restart until the coordinator writes them again: retried.
    if (!theta || !tasks) throw new Error(`θ or the tasks of step ${chunk.step} chunk ${chunk.chunk} are not in Redis (yet)`);
    cachedTheta = { key: keys.theta, bytes: theta };
    const fetched = performance.now();
    const id = nextId++;
    const { parsedConfig: _parsed, ...payload } = chunk;
    const request: ComputeRequest = { id, payload, theta: new Uint8Array(theta), tasks: new Uint8Array(tasks) };
    const reply = await new Promise<ComputeReply>((resolve) => {
      const running = computeThread();
      // Past its deadline the computation is given up: its thread is stopped (the next chunk gets a new
      // one) and the attempt fails, so a hung computation cannot keep the chunk, lock renewed, for ever.
      const timer = setTimeout(() => {
        waiting.delete(id);
        if (thread === running) thread = undefined;
        running.terminate().catch(() => {});
        resolve({
          id,
          ok: false,
          message: `chunk ${job.id} exceeded its deadline of ${chunk.deadlineMs / 1000} s; its compute thread was stopped`,
          badInput: false,
        });
      }, chunk.deadlineMs);
      waiting.set(id, (answer) => {
        clearTimeout(timer);
        resolve(answer);
      });
      running.postMessage(request, [request.tasks.buffer as ArrayBuffer]);
    });
    if (!reply.ok) {
      options.log(`worker: chunk ${job.id} failed: ${reply.message}`);
      throw reply.badInput ? new UnrecoverableError(reply.message) : new Error(reply.message);
    }
    const computed = performance.now();
    await redis.set(keys.result, Buffer.from(reply.result.buffer, reply.result.byteOffset, reply.result.byteLength), "PX", BLOB_TTL_MS);
    if (options.logChunks) {
      const ms = (from: number, to: number) => (to - from).toFixed(1);
      options.log(
        `worker: computed chunk ${job.id}: fetch ${ms(started, fetched)} ms, compute ${ms(fetched, computed)} ms, store ${ms(computed, performance.now())} ms`,
      );
    }
    return { bytes: reply.result.byteLength };
  };

  const worker = new Worker(options.queueName ?? TASK_QUEUE_NAME, processChunk, {
    connection: bullConnection(options.target),
    concurrency: 1,
    lockDuration: options.lockMs,
    stalledInterval: options.lockMs,
    // Each death of a worker holding the chunk counts: a chunk that kills its worker (out of memory)
    // fails after maxAttempts starts instead of killing worker after worker.
    maxStalledCount: options.maxAttempts - 1,
  });
  worker.on("error", (error) => options.log(`worker (chunks): ${error.message}`));
  await worker.waitUntilReady();
  return {
    async close() {
      await worker.close();
      await thread?.terminate();
      redis.disconnect();
    },
  };
}
