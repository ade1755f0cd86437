// A hostile `concord worker` stand-in for the tests: takes chunk jobs, computes the honest result
// with the real code (runTaskJob), then damages it as the Redis key `concord-test:tamper` says
// before writing it back. Usage: node tampering-worker.mjs <redis url> <queue name>. Runs the built
// modules (dist), like the CLI processes the other distributed tests start.
import { runTaskJob } from "@concord/algorithms/node";
import { useBackend } from "@concord/backend";
import { createRegistry, parseConfig } from "@concord/runner";
import * as tf from "@tensorflow/tfjs-core";
import { Worker } from "bullmq";
import { Redis } from "ioredis";
import { pack, unpack } from "../../dist/binary.js";
import { parseRedisUrl } from "../../dist/connection.js";
import { chunkResultEnvelope } from "../../dist/tasks/chunk-result.js";
import { BLOB_TTL_MS, blobKeys } from "../../dist/tasks/protocol.js";

const [url, queueName] = process.argv.slice(2);
const target = parseRedisUrl(url);
const redis = new Redis({ ...target.options, maxRetriesPerRequest: null });
await useBackend("cpu");
tf.env().set("PROD", true);
const registry = createRegistry();

/** Each way of damaging an honest envelope (mutates it). */
const TAMPER = {
  none: () => {},
  "other-indices": (envelope) => {
    envelope.result.indices = envelope.result.indices.map((index) => index + 1);
  },
  "renamed-parameter": (envelope) => {
    envelope.result.adapted[0][0][0] = "evil/weight";
  },
  "reshaped-parameter": (envelope) => {
    const tensor = envelope.result.taskGradients[0][0][1];
    tensor.shape = [...tensor.shape].reverse();
  },
  "int32-bytes": (envelope) => {
    const tensor = envelope.result.adapted[0][1][1];
    tensor.dtype = "int32";
    tensor.data = new Int32Array(tensor.data.buffer);
  },
  "missing-gradients": (envelope) => {
    envelope.result.taskGradients = undefined;
  },
  "extra-field": (envelope) => {
    envelope.result.error = "ignored?";
  },
  "stale-theta": (envelope) => {
    envelope.inputs.theta = "0".repeat(64);
  },
  "other-chunk": (envelope) => {
    envelope.chunk += 1;
  },
  "not-packed": () => "not a packed payload",
};

const worker = new Worker(
  queueName,
  async (job) => {
    const payload = job.data;
    const keys = blobKeys(payload.session, payload.step, payload.chunk);
    const [theta, tasks, mode] = await Promise.all([redis.getBuffer(keys.theta), redis.getBuffer(keys.tasks), redis.get("concord-test:tamper")]);
    const config = parseConfig(payload.config);
    const setup = {
      model: registry.create("model", config.model, "model"),
      objective: registry.create("objective", config.objective, "objective"),
      innerOptimizer: registry.create("innerOptimizer", config.innerOptimizer, "innerOptimizer"),
    };
    const chunkTasks = unpack(tasks);
    const all = new Array(payload.taskCount);
    chunkTasks.forEach((task, i) => {
      all[payload.start + i] = task;
    });
    let next = payload.start;
    const taskJob = { kind: payload.kind, innerSteps: payload.innerSteps, adapt: payload.adapt, params: unpack(theta), tasks: all, names: payload.names };
    const result = runTaskJob(setup, taskJob, () => (next < payload.end ? next++ : payload.taskCount), payload.taskCount);
    const envelope = chunkResultEnvelope(payload, new Uint8Array(theta), new Uint8Array(tasks), result);
    const replaced = TAMPER[mode ?? "none"](envelope);
    await redis.set(keys.result, typeof replaced === "string" ? Buffer.from(replaced) : pack(envelope), "PX", BLOB_TTL_MS);
    process.stderr.write(`tampering worker: ${mode} chunk ${job.id}\n`);
  },
  { connection: target.options, concurrency: 1 },
);
await worker.waitUntilReady();
process.stderr.write("tampering worker: ready\n");
