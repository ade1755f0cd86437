// The per-task computation of a pool worker, shared by the worker threads of createTaskPool and by
// any other executor of TaskJobs (@concord/distributed's Redis workers): the same code computes each
// task's θ'_i, G_i and L_query_i wherever it runs, so results placed by task index are identical.
import * as tf from "@tensorflow/tfjs-core";
import { disposeParams, type InnerOptimizer, type Model, type Objective } from "@concord/core";
import { adaptAndDifferentiate, batchedTaskResults, type TaskResults } from "../task-results.js";
import { jobUnits, paramsFromWire, paramsToWire, type TaskJob, type TaskJobResult, taskFromWire, toWire } from "./wire.js";

/** The plug-ins a TaskJob runs with; their names must equal the job's `names`. */
export interface TaskSetup {
  readonly model: Model;
  readonly objective: Objective;
  readonly innerOptimizer: InnerOptimizer;
}

/**
 * Computes the tasks whose indices `nextIndex()` hands out (until it returns an index ≥ the job's
 * task count) with per-task execution, exactly as the meta-step's sequential path does; for a job
 * with a chunkSize, the indices are chunks, each run as the sequential batched path runs it.
 * `job.tasks` may be sparse: only the handed-out indices are read. Throws when the setup's plug-in
 * names differ from the job's.
 */
export function runTaskJob(setup: TaskSetup, job: TaskJob, nextIndex: () => number, taskCount = jobUnits(job.tasks.length, job.chunkSize)): TaskJobResult {
  const mismatch = (["model", "objective", "innerOptimizer"] as const).find((key) => setup[key].name !== job.names[key]);
  if (mismatch) throw new Error(`the setup module's ${mismatch} is '${setup[mismatch].name}', the meta-step's is '${job.names[mismatch]}'`);
  const chunkSize = job.chunkSize;
  const options = {
    ...setup,
    innerSteps: job.innerSteps,
    execution: chunkSize === undefined ? ("per-task" as const) : ("batched" as const),
    ...(job.adapt !== undefined ? { adapt: job.adapt } : {}),
  };
  const params = paramsFromWire(job.params);
  const indices: number[] = [];
  const adapted: TaskJobResult["adapted"] = [];
  const taskGradients: NonNullable<TaskJobResult["taskGradients"]> = [];
  const queryLosses: NonNullable<TaskJobResult["queryLosses"]> = [];
  try {
    for (let index = nextIndex(); index < taskCount; index = nextIndex()) {
      // A chunk's tasks, or the one task.
      const wires = chunkSize === undefined ? [job.tasks[index]] : job.tasks.slice(index * chunkSize, (index + 1) * chunkSize);
      if (wires.length === 0 || wires.some((wire) => !wire))
        throw new Error(`${chunkSize === undefined ? "task" : "chunk"} ${index} was handed out but is not in the job`);
      indices.push(index);
      const tasks = wires.map((wire) => taskFromWire(wire!));
      let result: TaskResults | undefined;
      try {
        result =
          chunkSize === undefined
            ? adaptAndDifferentiate(params, tasks[0]!.support, tasks[0]!.query, job.kind, options)
            : batchedTaskResults(params, tasks, job.kind, options);
        adapted.push(paramsToWire(result.adapted));
        if (result.taskGradients) taskGradients.push(paramsToWire(result.taskGradients));
        if (result.queryLosses) queryLosses.push(toWire(result.queryLosses));
      } finally {
        for (const task of tasks) tf.dispose([task.support.x, task.support.y, task.query.x, task.query.y]);
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
