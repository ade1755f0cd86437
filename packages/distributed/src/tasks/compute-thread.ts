// The compute thread of `concord worker` for data-parallel chunks: tfjs work is synchronous, and on
// the worker's main thread it would stop BullMQ from renewing the job's lock. Builds the model,
// objective and inner optimizer from the job's config with the worker's own registry (built-ins and
// its --plugin files), then runs the same per-task code as the worker-thread pool.
import { parentPort, workerData } from "node:worker_threads";
import { activeBackendChoice, type BackendChoice, useBackend } from "@concord/backend";
import { ConcordError } from "@concord/core";
import { runTaskJob, type TaskJob, type TaskSetup, type WireParams, type WireTask } from "@concord/algorithms/node";
import { createRegistry, loadPlugins, parseConfig, type Registry } from "@concord/runner";
import * as tf from "@tensorflow/tfjs-core";
import { pack, unpack } from "../binary.js";
import { chunkResultEnvelope } from "./chunk-result.js";
import type { ComputeReply, ComputeRequest } from "./compute-messages.js";

const { pluginFiles } = workerData as { pluginFiles: readonly string[] };
const setups = new Map<string, TaskSetup>();
let registry: Registry | undefined;
let backend: string | undefined;
let skipKernels: string | undefined;

async function compute(request: ComputeRequest): Promise<Uint8Array> {
  const { payload } = request;
  if (!registry) {
    tf.env().set("PROD", true);
    registry = createRegistry();
    await loadPlugins(registry, pluginFiles);
  }
  const config = parseConfig(payload.config);
  // Kernels left out change float32 rounding, and a kernel once installed stays: a thread keeps the
  // first job's skipKernels and refuses jobs that name others.
  const skip = JSON.stringify(config.skipKernels);
  skipKernels ??= skip;
  if (skipKernels !== skip)
    throw new ConcordError(`this worker computes with skipKernels ${skipKernels}, the coordinator with ${skip}`, { field: "job.config.skipKernels" });
  if (backend !== payload.backend) {
    await useBackend(payload.backend as BackendChoice, { skipKernels: config.skipKernels });
    backend = activeBackendChoice();
  }
  if (backend !== payload.backend)
    throw new ConcordError(`this worker computes on '${backend}', the coordinator on '${payload.backend}'`, { field: "job.backend" });
  const key = JSON.stringify([config.model, config.objective, config.innerOptimizer]);
  let setup = setups.get(key);
  if (!setup) {
    setup = {
      model: registry.create("model", config.model, "model"),
      objective: registry.create("objective", config.objective, "objective"),
      innerOptimizer: registry.create("innerOptimizer", config.innerOptimizer, "innerOptimizer"),
    };
    setups.set(key, setup);
  }
  const params = unpack<WireParams>(Buffer.from(request.theta.buffer, request.theta.byteOffset, request.theta.byteLength), "theta");
  const chunkTasks = unpack<WireTask[]>(Buffer.from(request.tasks.buffer, request.tasks.byteOffset, request.tasks.byteLength), "tasks");
  if (!Array.isArray(chunkTasks) || chunkTasks.length !== payload.end - payload.start) {
    throw new ConcordError(`expected ${payload.end - payload.start} tasks in the chunk, got ${Array.isArray(chunkTasks) ? chunkTasks.length : "none"}`, {
      field: "tasks",
    });
  }
  // The meta-batch's task list with only this chunk present: runTaskJob reads the indices handed out.
  const tasks: WireTask[] = new Array(payload.taskCount);
  chunkTasks.forEach((task, i) => {
    tasks[payload.start + i] = task;
  });
  const job: TaskJob = { kind: payload.kind, innerSteps: payload.innerSteps, adapt: payload.adapt, params, tasks, names: payload.names };
  let next = payload.start;
  const result = runTaskJob(setup, job, () => (next < payload.end ? next++ : payload.taskCount), payload.taskCount);
  return new Uint8Array(pack(chunkResultEnvelope(payload, request.theta, request.tasks, result)));
}

let queue = Promise.resolve();
parentPort!.on("message", (request: ComputeRequest) => {
  queue = queue.then(() =>
    compute(request).then(
      (result) => parentPort!.postMessage({ id: request.id, ok: true, result } satisfies ComputeReply, [result.buffer as ArrayBuffer]),
      (error: unknown) =>
        parentPort!.postMessage({
          id: request.id,
          ok: false,
          message: (error as Error)?.message ?? String(error),
          badInput: error instanceof ConcordError,
        } satisfies ComputeReply),
    ),
  );
});
