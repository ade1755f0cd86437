import type { AdaptSelection } from "@concord/core";
import * as tf from "@tensorflow/tfjs-core";
import type { Batch, Params, Task } from "@concord/core";

/** A tensor as plain data, for postMessage (exact copy of the values). */
export interface WireTensor {
  readonly shape: number[];
  readonly dtype: tf.DataType;
  readonly data: Float32Array | Int32Array | Uint8Array;
}
export type WireParams = [name: string, tensor: WireTensor][];
export interface WireTask {
  readonly support: { x: WireTensor; y: WireTensor };
  readonly query: { x: WireTensor; y: WireTensor };
}

/** One worker's share of a meta-batch. */
export interface TaskJob {
  readonly kind: "second-order" | "first-order" | "none";
  readonly innerSteps: number;
  /** The meta-step's adapt selection (AdaptOptions.adapt). */
  readonly adapt: AdaptSelection | undefined;
  readonly params: WireParams;
  readonly tasks: WireTask[];
  /** model / objective / inner optimizer names of the caller, checked against the worker's. */
  readonly names: { model: string; objective: string; innerOptimizer: string };
  /**
   * Batched execution: each claimed index is a chunk of this many consecutive tasks (the last may
   * be shorter), run as one batched pass; absent: each index is one task, run per task.
   */
  readonly chunkSize?: number | undefined;
}

/**
 * For each task this worker claimed (`indices`, ascending): θ'_i and (unless kind is "none") G_i,
 * L_query_i. For a chunked job, each index is a chunk and each entry that chunk's results stacked on
 * a leading task axis (L_query: one value per task).
 */
export interface TaskJobResult {
  readonly indices: number[];
  readonly adapted: WireParams[];
  readonly taskGradients: WireParams[] | undefined;
  readonly queryLosses: WireTensor[] | undefined;
  readonly error?: string;
}

/** The job a meta-step's per-task path sends out: θ, every task, and what to compute. */
export function createTaskJob(
  params: Params,
  tasks: readonly Task[],
  kind: TaskJob["kind"],
  options: { innerSteps: number; adapt?: AdaptSelection | undefined; model: { name: string }; objective: { name: string }; innerOptimizer: { name: string } },
  chunkSize?: number,
): TaskJob {
  const names = { model: options.model.name, objective: options.objective.name, innerOptimizer: options.innerOptimizer.name };
  return {
    kind,
    innerSteps: options.innerSteps,
    adapt: options.adapt,
    params: paramsToWire(params),
    tasks: tasks.map(taskToWire),
    names,
    ...(chunkSize !== undefined ? { chunkSize } : {}),
  };
}

/** How many indices a job hands out: its chunks when it has a chunkSize, else its tasks. */
export function jobUnits(taskCount: number, chunkSize: number | undefined): number {
  return chunkSize === undefined ? taskCount : Math.ceil(taskCount / chunkSize);
}

export function toWire(tensor: tf.Tensor): WireTensor {
  // wasm's dataSync is a fresh copy of the heap; the cpu backend's is its own storage, copied here.
  const data = tensor.dataSync() as WireTensor["data"];
  return { shape: [...tensor.shape], dtype: tensor.dtype, data: tf.getBackend() === "wasm" ? data : data.slice() };
}

export function fromWire(wire: WireTensor): tf.Tensor {
  return tf.tensor(wire.data, wire.shape, wire.dtype);
}

export function paramsToWire(params: Params): WireParams {
  return Object.entries(params).map(([name, value]) => [name, toWire(value)]);
}

export function paramsFromWire(wire: WireParams): Params {
  return Object.fromEntries(wire.map(([name, value]) => [name, fromWire(value)]));
}

const batchToWire = (batch: Batch) => ({ x: toWire(batch.x), y: toWire(batch.y) });
export const taskToWire = (task: Task): WireTask => ({ support: batchToWire(task.support), query: batchToWire(task.query) });

const batchFromWire = (batch: WireTask["support"]): Batch => ({ x: fromWire(batch.x), y: fromWire(batch.y) });
export const taskFromWire = (task: WireTask): Task => ({ support: batchFromWire(task.support), query: batchFromWire(task.query) });

/** The buffers of a result, to transfer rather than copy. */
export function transferList(result: TaskJobResult): ArrayBuffer[] {
  const all = [...result.adapted, ...(result.taskGradients ?? [])];
  const losses = (result.queryLosses ?? []).map((tensor) => tensor.data.buffer as ArrayBuffer);
  return [...all.flatMap((params) => params.map(([, tensor]) => tensor.data.buffer as ArrayBuffer)), ...losses];
}
