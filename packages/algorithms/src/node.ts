// Node-only parts of @concord/algorithms (worker threads): `@concord/algorithms/node`.
export { createTaskPool, type TaskPool, type TaskPoolOptions } from "./parallel/task-pool.js";
// For executors of a meta-batch's tasks outside this process (@concord/distributed): the pool
// contract the per-task path calls, the job it sends and the code that computes it.
export type { RunnableTaskPool } from "./parallel/pool-contract.js";
export { runTaskJob, type TaskSetup } from "./parallel/run-task-job.js";
export {
  createTaskJob,
  fromWire,
  paramsFromWire,
  paramsToWire,
  type TaskJob,
  type TaskJobResult,
  taskFromWire,
  taskToWire,
  toWire,
  type WireParams,
  type WireTask,
  type WireTensor,
} from "./parallel/wire.js";
export type { TaskGradientKind } from "./task-gradient-kind.js";
