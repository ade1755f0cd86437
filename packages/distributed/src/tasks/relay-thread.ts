// The BullMQ side of a queue pool, in its own thread: the training thread blocks (Atomics.wait) inside
// the synchronous meta-step while this thread writes θ and the tasks to Redis, enqueues one job per
// chunk, waits for the workers and reads their results back. It survives a Redis restart: when the
// connection comes back it writes again whatever the step still needs (a server restarted without
// persistence has lost it) and re-adds the chunks without results; results are deterministic, so a
// chunk computed twice gives the same bytes.
import { type MessagePort, parentPort, workerData } from "node:worker_threads";
import { Queue, QueueEvents } from "bullmq";
import { Redis } from "ioredis";
import { bullConnection, parseRedisUrl } from "../connection.js";
import { describeFailedJob } from "../failed-job.js";
import { blobKeys, chunkJobId } from "./protocol.js";
import type { RelayDispatch, RelayReply, RelayStart } from "./relay-messages.js";

const start = workerData as RelayStart;
const target = parseRedisUrl(start.url);
// Commands wait (queued by ioredis) while Redis is away; this thread decides when to give up.
const redis = new Redis({ ...target.options, maxRetriesPerRequest: null, retryStrategy: (times) => Math.min(times * 100, 1000) });
redis.on("error", () => {});
const queue = new Queue(start.queueName, { connection: bullConnection(target) });
queue.on("error", () => {});
const events = new QueueEvents(start.queueName, { connection: bullConnection(target) });
events.on("error", () => {});

/** Resolvers of the current step's chunks, by job id (QueueEvents wakes the poll early). */
const wakers = new Map<string, () => void>();
events.on("completed", ({ jobId }) => wakers.get(jobId)?.());
events.on("failed", ({ jobId }) => wakers.get(jobId)?.());
/** Chunks whose worker died (BullMQ found their lock expired and queued them again), since the last reply. */
let takenOver = 0;
events.on("stalled", ({ jobId }) => {
  if (wakers.has(jobId) || current?.jobIds.has(jobId)) takenOver += 1;
});

let connectedAt = Date.now();
let downSince: number | undefined;
redis.on("close", () => {
  downSince ??= Date.now();
});
redis.on("ready", () => {
  downSince = undefined;
  connectedAt = Date.now();
});

/** The step being waited for; the watchdog may answer it before `run` does (then run's answer is dropped). */
let current: { step: number; answered: boolean; jobIds: Set<string> } | undefined;

function reply(message: RelayReply): void {
  if (!current || current.step !== message.step || current.answered) return;
  current.answered = true;
  replies!.postMessage(message, message.ok ? message.results.map((bytes) => bytes.buffer as ArrayBuffer) : []);
  Atomics.store(start.signal, 0, 1);
  Atomics.notify(start.signal, 0);
}

async function submit(dispatch: RelayDispatch, chunks: readonly number[]): Promise<number> {
  const { session } = dispatch.chunks[0]!.payload;
  const multi = redis.multi();
  let bytes = 0;
  multi.set(blobKeys(session, dispatch.step, 0).theta, Buffer.from(dispatch.theta.buffer, dispatch.theta.byteOffset, dispatch.theta.byteLength), "PX", start.ttlMs);
  bytes += dispatch.theta.byteLength;
  for (const chunk of chunks) {
    const { tasks } = dispatch.chunks[chunk]!;
    multi.set(blobKeys(session, dispatch.step, chunk).tasks, Buffer.from(tasks.buffer, tasks.byteOffset, tasks.byteLength), "PX", start.ttlMs);
    bytes += tasks.byteLength;
  }
  await multi.exec();
  const jobs = chunks.map((chunk) => ({
    name: `step ${dispatch.step} chunk ${chunk}`,
    data: dispatch.chunks[chunk]!.payload,
    // Retried when a worker fails for a transient reason; a worker's death is BullMQ's stalled-job
    // check (the job returns to the queue), which does not count as an attempt.
    opts: {
      jobId: chunkJobId(session, dispatch.step, chunk),
      attempts: start.maxAttempts,
      backoff: { type: "fixed", delay: 500 },
      removeOnComplete: true,
      removeOnFail: { age: 24 * 3600 },
    },
  }));
  await queue.addBulk(jobs);
  for (const job of jobs) bytes += JSON.stringify(job.data).length;
  return bytes;
}

/** Waits until a chunk has a result (its result key exists) or its job failed for good. */
async function run(dispatch: RelayDispatch): Promise<RelayReply> {
  const { session } = dispatch.chunks[0]!.payload;
  const count = dispatch.chunks.length;
  const results: (Uint8Array | undefined)[] = Array.from({ length: count }, () => undefined);
  let bytesDown = await submit(dispatch, [...Array(count).keys()]);
  let bytesUp = 0;
  let submittedAt = Date.now();
  let resubmitted = 0;
  while (results.some((result) => result === undefined)) {
    if (current?.answered) return { step: dispatch.step, ok: false, message: "abandoned" };
    const pending = [...Array(count).keys()].filter((chunk) => results[chunk] === undefined);
    // After a reconnection, the server may have lost everything (restarted without persistence).
    if (connectedAt > submittedAt) {
      submittedAt = Date.now();
      const missing: number[] = [];
      for (const chunk of pending) if ((await queue.getJobState(chunkJobId(session, dispatch.step, chunk))) === "unknown") missing.push(chunk);
      if (missing.length > 0 || (await redis.exists(blobKeys(session, dispatch.step, 0).theta)) === 0) {
        bytesDown += await submit(dispatch, missing);
        resubmitted += missing.length;
      }
    }
    const values = await redis.mgetBuffer(...pending.map((chunk) => blobKeys(session, dispatch.step, chunk).result));
    for (const [i, value] of values.entries()) {
      if (value) {
        results[pending[i]!] = new Uint8Array(value);
        bytesUp += value.byteLength;
      }
    }
    for (const chunk of pending) {
      if (results[chunk]) continue;
      const id = chunkJobId(session, dispatch.step, chunk);
      if ((await queue.getJobState(id)) === "failed") {
        const job = await queue.getJob(id);
        return { step: dispatch.step, ok: false, message: `chunk ${chunk} (tasks ${dispatch.chunks[chunk]!.payload.start}–${dispatch.chunks[chunk]!.payload.end - 1}) failed on the workers: ${describeFailedJob(job, id)}` };
      }
    }
    if (results.every((result) => result !== undefined)) break;
    // Sleep until a job of this step finishes (or 200 ms: events can be missed across a reconnection).
    await new Promise<void>((resolve) => {
      const timer = setTimeout(done, 200);
      function done() {
        clearTimeout(timer);
        for (const chunk of pending) wakers.delete(chunkJobId(session, dispatch.step, chunk));
        resolve();
      }
      for (const chunk of pending) wakers.set(chunkJobId(session, dispatch.step, chunk), done);
    });
  }
  // The blobs served their purpose; leftovers would expire anyway.
  const keys = dispatch.chunks.flatMap((_, chunk) => [blobKeys(session, dispatch.step, chunk).tasks, blobKeys(session, dispatch.step, chunk).result]);
  await redis.del(blobKeys(session, dispatch.step, 0).theta, ...keys);
  const stalled = takenOver;
  takenOver = 0;
  return { step: dispatch.step, ok: true, results: results as Uint8Array[], bytesDown, bytesUp, resubmitted, takenOver: stalled };
}

// Commands wait while Redis is away, so `run` cannot notice a long outage itself.
setInterval(() => {
  if (current && !current.answered && downSince !== undefined && Date.now() - downSince > start.timeoutMs) {
    reply({ step: current.step, ok: false, message: `Redis at ${target.display} has been unreachable for ${Math.round((Date.now() - downSince) / 1000)} s` });
  }
}, 250).unref();

let replies: MessagePort | undefined;

parentPort!.on("message", (message: RelayDispatch | "close" | { port: MessagePort }) => {
  if (typeof message === "object" && "port" in message) {
    replies = message.port;
    return;
  }
  if (message === "close") {
    Promise.allSettled([events.close(), queue.close()]).then(() => {
      redis.disconnect();
      parentPort!.close();
    });
    return;
  }
  const session = message.chunks[0]!.payload.session;
  current = { step: message.step, answered: false, jobIds: new Set(message.chunks.map((_, chunk) => chunkJobId(session, message.step, chunk))) };
  run(message).then(reply, (error: unknown) => reply({ step: message.step, ok: false, message: (error as Error)?.message ?? String(error) }));
});

Promise.all([redis.ping(), queue.waitUntilReady(), events.waitUntilReady()]).then(
  () => parentPort!.postMessage({ ready: true }),
  (error: unknown) => parentPort!.postMessage({ ready: false, message: (error as Error)?.message ?? String(error) }),
);
