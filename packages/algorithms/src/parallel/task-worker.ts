// Worker thread of a TaskPool: builds the model, objective and inner optimizer from the pool's
// setup module, then answers jobs (θ and a share of tasks) with each task's θ'_i and G_i.
import { type MessagePort, parentPort, workerData } from "node:worker_threads";
import { type BackendChoice, type FastKernelName, useBackend } from "@concord/backend";
import { runTaskJob, type TaskSetup } from "./run-task-job.js";
import { type TaskJob, type TaskJobResult, transferList } from "./wire.js";

interface WorkerData {
  readonly port: MessagePort;
  readonly signal: Int32Array;
  readonly counter: Int32Array;
  readonly index: number;
  readonly setup: string;
  readonly setupOptions: unknown;
  readonly backend: string;
  readonly skipKernels: readonly FastKernelName[];
}

const data = workerData as WorkerData;

async function start(): Promise<TaskSetup> {
  // A worker is a fresh program: it sets up TensorFlow.js as its creator did (backend and Concord).
  await useBackend(data.backend as BackendChoice, { skipKernels: data.skipKernels });
  const module = (await import(data.setup)) as { createTaskSetup?: (options: unknown) => TaskSetup | Promise<TaskSetup> };
  if (typeof module.createTaskSetup !== "function") throw new Error(`${data.setup} does not export createTaskSetup`);
  return module.createTaskSetup(data.setupOptions);
}

function run(setup: TaskSetup, job: TaskJob): TaskJobResult {
  // Claim task indices from the counter shared with the caller and the other workers.
  return runTaskJob(setup, job, () => Atomics.add(data.counter, 0, 1));
}

start().then(
  (setup) => {
    data.port.on("message", (job: TaskJob) => {
      let result: TaskJobResult;
      try {
        result = run(setup, job);
      } catch (error) {
        result = { indices: [], adapted: [], taskGradients: undefined, queryLosses: undefined, error: error instanceof Error ? error.message : String(error) };
      }
      data.port.postMessage(result, transferList(result));
      Atomics.store(data.signal, data.index, 1);
      Atomics.notify(data.signal, data.index);
    });
    parentPort?.postMessage({ ready: true });
  },
  (error: unknown) => parentPort?.postMessage({ ready: false, error: error instanceof Error ? error.message : String(error) }),
);
