// Worker thread of a TaskPool: builds the model, objective and inner optimizer from the pool's
// setup module, then answers jobs (θ and a share of tasks) with each task's θ'_i and G_i.
import { type MessagePort, parentPort, workerData } from "node:worker_threads";
import * as tf from "@tensorflow/tfjs-core";
import { type BackendChoice, useBackend } from "@concord/backend";
import { disposeParams, type InnerOptimizer, type Model, type Objective } from "@concord/core";
import { adaptAndDifferentiate } from "../task-results.js";
import { paramsFromWire, paramsToWire, type TaskJob, type TaskJobResult, taskFromWire, toWire, transferList } from "./wire.js";

interface WorkerData {
  readonly port: MessagePort;
  readonly signal: Int32Array;
  readonly counter: Int32Array;
  readonly index: number;
  readonly setup: string;
  readonly setupOptions: unknown;
  readonly backend: string;
}

interface TaskSetup {
  readonly model: Model;
  readonly objective: Objective;
  readonly innerOptimizer: InnerOptimizer;
}

const data = workerData as WorkerData;

async function start(): Promise<TaskSetup> {
  // A worker is a fresh program: it sets up TensorFlow.js as its creator did (backend and Concord).
  await useBackend(data.backend as BackendChoice);
  const module = (await import(data.setup)) as { createTaskSetup?: (options: unknown) => TaskSetup | Promise<TaskSetup> };
  if (typeof module.createTaskSetup !== "function") throw new Error(`${data.setup} does not export createTaskSetup`);
  return module.createTaskSetup(data.setupOptions);
}

function run(setup: TaskSetup, job: TaskJob): TaskJobResult {
  const mismatch = (["model", "objective", "innerOptimizer"] as const).find((key) => setup[key].name !== job.names[key]);
  if (mismatch) throw new Error(`the setup module's ${mismatch} is '${setup[mismatch].name}', the meta-step's is '${job.names[mismatch]}'`);
  const options = { ...setup, innerSteps: job.innerSteps, execution: "per-task" as const, ...(job.adapt !== undefined ? { adapt: job.adapt } : {}) };
  const params = paramsFromWire(job.params);
  const indices: number[] = [];
  const adapted: TaskJobResult["adapted"] = [];
  const taskGradients: NonNullable<TaskJobResult["taskGradients"]> = [];
  const queryLosses: NonNullable<TaskJobResult["queryLosses"]> = [];
  try {
    // Claim task indices from the counter shared with the caller and the other workers.
    for (let index = Atomics.add(data.counter, 0, 1); index < job.tasks.length; index = Atomics.add(data.counter, 0, 1)) {
      indices.push(index);
      const task = taskFromWire(job.tasks[index]!);
      let result: ReturnType<typeof adaptAndDifferentiate> | undefined;
      try {
        result = adaptAndDifferentiate(params, task.support, task.query, job.kind, options);
        adapted.push(paramsToWire(result.adapted));
        if (result.taskGradients) taskGradients.push(paramsToWire(result.taskGradients));
        if (result.queryLosses) queryLosses.push(toWire(result.queryLosses));
      } finally {
        tf.dispose([task.support.x, task.support.y, task.query.x, task.query.y]);
        disposeParams(result?.adapted);
        disposeParams(result?.taskGradients);
        tf.dispose(result?.queryLosses);
      }
    }
  } finally {
    disposeParams(params);
  }
  const none = job.kind === "none";
  return { indices, adapted, taskGradients: none ? undefined : taskGradients, queryLosses: none ? undefined : queryLosses };
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
