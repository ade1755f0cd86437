// The BullMQ side of a queue pool, in its own thread: the training thread blocks (Atomics.wait) inside
// the synchronous meta-step while this thread writes θ and the tasks to Redis, enqueues one job per
// chunk, waits for the workers and reads their results back. It survives Redis losing the step's data
// (a restart without persistence, FLUSHALL, eviction): whatever the step still needs is written again
// and chunks whose jobs are gone are re-added; results are deterministic, so a chunk computed twice
// gives the same bytes.
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

let downSince: number | undefined;
redis.on("close", () => {
  downSince ??= Date.now();
});
redis.on("ready", () => {
  downSince = undefined;
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

/** Writes θ and the tasks of `inputsFor`, then adds the jobs of `jobsFor` (inputs first: a job never waits for its inputs). */
async function submit(dispatch: RelayDispatch, jobsFor: readonly number[], inputsFor: readonly number[] = jobsFor): Promise<number> {
  const { session } = dispatch.chunks[0]!.payload;
  const multi = redis.multi();
  let bytes = 0;
  multi.set(
    blobKeys(session, dispatch.step, 0).theta,
    Buffer.from(dispatch.theta.buffer, dispatch.theta.byteOffset, dispatch.theta.byteLength),
    "PX",
    start.ttlMs,
  );
  bytes += dispatch.theta.byteLength;
  for (const chunk of inputsFor) {
    const { tasks } = dispatch.chunks[chunk]!;
    multi.set(blobKeys(session, dispatch.step, chunk).tasks, Buffer.from(tasks.buffer, tasks.byteOffset, tasks.byteLength), "PX", start.ttlMs);
    bytes += tasks.byteLength;
  }
  await multi.exec();
  const jobs = jobsFor.map((chunk) => ({
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
  if (jobs.length > 0) await queue.addBulk(jobs);
  for (const job of jobs) bytes += JSON.stringify(job.data).length;
  return bytes;
}

/**
 * Waits until every chunk has a result (its result key exists), or one failed for good. Each poll
 * also checks that Redis still holds what the step needs, because Redis can lose data without a
 * disconnect (FLUSHALL, eviction) as well as with one (a restart without persistence): a chunk whose
 * job is gone before its result is added again, and θ or tasks that are gone are written again.
 * Results are deterministic, so a chunk computed twice gives the same bytes.
 */
async function run(dispatch: RelayDispatch): Promise<RelayReply> {
  const { session } = dispatch.chunks[0]!.payload;
  const count = dispatch.chunks.length;
  const all = [...Array(count).keys()];
  const jobId = (chunk: number) => chunkJobId(session, dispatch.step, chunk);
  const resultKeys = (chunks: readonly number[]) => chunks.map((chunk) => blobKeys(session, dispatch.step, chunk).result);
  const results: (Uint8Array | undefined)[] = Array.from({ length: count }, () => undefined);
  let bytesDown = await submit(dispatch, all);
  let bytesUp = 0;
  const queuedAt = all.map(() => Date.now());
  let slowestChunkMs = 0;
  let resubmitted = 0;
  // The worker gives a chunk up at its deadline; one still running long after has a worker that cannot.
  const deadlineMs = dispatch.chunks[0]!.payload.deadlineMs;
  const overdueMs = 2 * deadlineMs + 60_000;
  const take = async (chunks: readonly number[]) => {
    if (chunks.length === 0) return;
    const values = await redis.mgetBuffer(...resultKeys(chunks));
    for (const [i, value] of values.entries()) {
      if (!value) continue;
      const chunk = chunks[i]!;
      results[chunk] = new Uint8Array(value);
      bytesUp += value.byteLength;
      slowestChunkMs = Math.max(slowestChunkMs, Date.now() - queuedAt[chunk]!);
    }
  };
  const waiting = () => all.filter((chunk) => results[chunk] === undefined);

  await take(all);
  while (waiting().length > 0) {
    if (current?.answered) return { step: dispatch.step, ok: false, message: "abandoned" };
    const pending = waiting();
    const states = await Promise.all(pending.map((chunk) => queue.getJobState(jobId(chunk))));
    const lost: number[] = [];
    for (const [i, chunk] of pending.entries()) {
      const state = states[i];
      if (state === "failed") {
        const job = await queue.getJob(jobId(chunk));
        return {
          step: dispatch.step,
          ok: false,
          message: `chunk ${chunk} (tasks ${dispatch.chunks[chunk]!.payload.start}–${dispatch.chunks[chunk]!.payload.end - 1}) failed on the workers: ${describeFailedJob(job, jobId(chunk))}`,
        };
      }
      if (state === "unknown") lost.push(chunk);
      if (state === "active") {
        const job = await queue.getJob(jobId(chunk));
        const runningMs = job?.processedOn ? Date.now() - job.processedOn : 0;
        if (runningMs > overdueMs) {
          return {
            step: dispatch.step,
            ok: false,
            message: `chunk ${chunk} (tasks ${dispatch.chunks[chunk]!.payload.start}–${dispatch.chunks[chunk]!.payload.end - 1}) has been running for ${Math.round(runningMs / 1000)} s on one worker, far past its deadline of ${deadlineMs / 1000} s: that worker neither finishes nor gives it up (a computation its compute thread cannot stop?); stop it`,
          };
        }
      }
    }
    // A worker writes the result before completing (and so removing) its job: a job gone with no
    // result is lost, not finished; the result is read again first in case it was written meanwhile.
    await take(lost);
    const lostForGood = lost.filter((chunk) => results[chunk] === undefined);
    const stillWaiting = waiting();
    const inputKeys = [blobKeys(session, dispatch.step, 0).theta, ...stillWaiting.map((chunk) => blobKeys(session, dispatch.step, chunk).tasks)];
    const inputsGone = stillWaiting.length > 0 && (await redis.exists(...inputKeys)) < inputKeys.length;
    if (lostForGood.length > 0 || inputsGone) {
      bytesDown += await submit(dispatch, lostForGood, inputsGone ? stillWaiting : lostForGood);
      resubmitted += lostForGood.length;
      for (const chunk of lostForGood) queuedAt[chunk] = Date.now();
    }
    if (stillWaiting.length === 0) break;
    // Sleep until a job of this step finishes (or 200 ms: events can be missed across a reconnection).
    await new Promise<void>((resolve) => {
      const timer = setTimeout(done, 200);
      function done() {
        clearTimeout(timer);
        for (const chunk of stillWaiting) wakers.delete(jobId(chunk));
        resolve();
      }
      for (const chunk of stillWaiting) wakers.set(jobId(chunk), done);
    });
    await take(waiting());
  }
  // The blobs served their purpose; leftovers would expire anyway.
  const keys = all.flatMap((chunk) => [blobKeys(session, dispatch.step, chunk).tasks, blobKeys(session, dispatch.step, chunk).result]);
  await redis.del(blobKeys(session, dispatch.step, 0).theta, ...keys);
  const stalled = takenOver;
  takenOver = 0;
  return { step: dispatch.step, ok: true, results: results as Uint8Array[], bytesDown, bytesUp, resubmitted, takenOver: stalled, slowestChunkMs };
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
