import * as tf from "@tensorflow/tfjs-core";
import { type Batch, disposeParams, keepParams, modelParamsOf, type Params, stackParams, type Task, tileParams } from "@concord/core";
import { type AdaptOptions, adapt, adaptedNames, type Execution, taskLosses, trainingLoss, zipNames } from "./adapt.js";
import type { RunnableTaskPool, TaskPool } from "./parallel/pool-contract.js";
import { fromWire, paramsFromWire, type TaskJobResult } from "./parallel/wire.js";
import type { TaskGradientKind } from "./task-gradient-kind.js";

export type { TaskGradientKind } from "./task-gradient-kind.js";

/** Per-task results, every parameter stacked on a leading task axis [T, ...]. */
export interface TaskResults {
  /** θ'_i */
  readonly adapted: Params;
  /** G_i = ∇_θ L_query_i(θ'_i(θ)) (second order) or ∇_θ'_i L_query_i(θ'_i) (first order); absent for "none". */
  readonly taskGradients: Params | undefined;
  /** L_query_i(θ'_i), [T]; absent for "none" (nothing differentiates the query set then). */
  readonly queryLosses: tf.Tensor1D | undefined;
}

/** How computeTaskResults shares out the work. */
export interface TaskExecution {
  /** Worker threads for per-task execution, and for batched chunks where the pool runs them (`runsChunks`). */
  readonly pool?: TaskPool | undefined;
  /** Batched execution: at most this many tasks per batched pass (bounds memory). Default: all. */
  readonly chunkSize?: number | undefined;
}

/**
 * Adapts θ to every task and, per task, differentiates that task's query loss. Weights are applied
 * afterwards to the per-task gradients, which is why they are constants for differentiation.
 * The caller owns (and disposes) every returned tensor. With a `pool`, per-task execution shares the
 * tasks out to worker threads; with a `chunkSize`, batched execution runs the tasks in consecutive
 * chunks, one tape at a time, shared out to the pool's threads when it has more than one and runs
 * chunks. Results are stacked in task order either way, and equal the sequential ones.
 */
export function computeTaskResults(
  params: Params,
  tasks: readonly Task[],
  kind: TaskGradientKind,
  options: AdaptOptions,
  execution: TaskExecution = {},
): TaskResults {
  const { pool, chunkSize } = execution;
  if (options.execution === "batched") {
    const chunks = taskChunks(tasks, chunkSize);
    if (pool && pool.threads > 1 && chunks.length > 1 && (pool as RunnableTaskPool).runsChunks) {
      return parallelChunkedResults(params, tasks, chunks, kind, options, pool as RunnableTaskPool);
    }
    return chunkedResults(chunks, (chunk) => batchedTaskResults(params, chunk, kind, options));
  }
  const lists: TaskLists = { adapted: [], gradients: [], losses: [] };
  try {
    if (pool && pool.threads > 1 && tasks.length > 1) {
      parallelLists(params, tasks, kind, options, pool as RunnableTaskPool, lists);
    } else {
      perTaskLists(params, tasks, kind, options, lists);
    }
    return {
      adapted: stackParams(lists.adapted),
      taskGradients: kind === "none" ? undefined : stackParams(lists.gradients),
      queryLosses: kind === "none" ? undefined : (tf.concat(lists.losses) as tf.Tensor1D),
    };
  } finally {
    lists.adapted.forEach(disposeParams);
    lists.gradients.forEach(disposeParams);
    tf.dispose(lists.losses);
  }
}

/** Per-task results in task order, before stacking. */
interface TaskLists {
  readonly adapted: Params[];
  readonly gradients: Params[];
  readonly losses: tf.Tensor[];
}

/** Appends θ'_i (and G_i, L_query_i) of every task, in order, to the lists. */
function perTaskLists(params: Params, tasks: readonly Task[], kind: TaskGradientKind, options: AdaptOptions, lists: TaskLists): void {
  for (const task of tasks) {
    const result = adaptAndDifferentiate(params, task.support, task.query, kind, options);
    lists.adapted.push(result.adapted);
    if (result.taskGradients) lists.gradients.push(result.taskGradients);
    if (result.queryLosses) lists.losses.push(result.queryLosses);
  }
}

/**
 * Every thread (this one included) claims tasks from the pool's shared counter; the results are
 * then put in task order. Each task's numbers come from the same code on the same backend as
 * perTaskLists, so the stacked results are identical to the sequential ones.
 */
function parallelLists(params: Params, tasks: readonly Task[], kind: TaskGradientKind, options: AdaptOptions, pool: RunnableTaskPool, lists: TaskLists): void {
  const adapted: Params[] = [];
  const gradients: Params[] = [];
  const losses: tf.Tensor[] = [];
  const { claim, wait } = pool.dispatch(params, tasks, kind, options);
  let remote: TaskJobResult[] = [];
  try {
    try {
      for (let index = claim(); index >= 0; index = claim()) {
        const task = tasks[index]!;
        const result = adaptAndDifferentiate(params, task.support, task.query, kind, options);
        adapted[index] = result.adapted;
        if (result.taskGradients) gradients[index] = result.taskGradients;
        if (result.queryLosses) losses[index] = result.queryLosses;
      }
    } finally {
      remote = wait();
    }
    for (const result of remote) {
      result.indices.forEach((index, i) => {
        adapted[index] = paramsFromWire(result.adapted[i]!);
        if (result.taskGradients) gradients[index] = paramsFromWire(result.taskGradients[i]!);
        if (result.queryLosses) losses[index] = fromWire(result.queryLosses[i]!);
      });
    }
  } finally {
    // Handed over in task order (and disposed by the caller), also when something failed.
    for (let i = 0; i < tasks.length; i++) {
      if (adapted[i]) lists.adapted.push(adapted[i]!);
      if (gradients[i]) lists.gradients.push(gradients[i]!);
      if (losses[i]) lists.losses.push(losses[i]!);
    }
  }
  if (lists.adapted.length !== tasks.length) throw new Error(`parallel execution returned ${lists.adapted.length} of ${tasks.length} tasks`);
}

/** Consecutive chunks of at most `chunkSize` tasks (one chunk when absent). */
export function taskChunks(tasks: readonly Task[], chunkSize: number | undefined): (readonly Task[])[] {
  if (chunkSize === undefined || chunkSize >= tasks.length) return [tasks];
  const chunks: (readonly Task[])[] = [];
  for (let start = 0; start < tasks.length; start += chunkSize) chunks.push(tasks.slice(start, start + chunkSize));
  return chunks;
}

/** Runs `run` on each chunk in turn (each chunk's tape is gone before the next starts) and concatenates in task order. */
function chunkedResults(chunks: readonly (readonly Task[])[], run: (chunk: readonly Task[]) => TaskResults): TaskResults {
  if (chunks.length === 1) return run(chunks[0]!);
  const parts: TaskResults[] = [];
  try {
    for (const chunk of chunks) parts.push(run(chunk));
    return concatenated(parts);
  } finally {
    parts.forEach(disposeResults);
  }
}

/**
 * The chunks shared out to the pool's workers and this thread, each claimed chunk run as
 * chunkedResults runs it (the same chunks, the same code on the same backend), then concatenated in
 * task order: the same results as the sequential batched path.
 */
function parallelChunkedResults(
  params: Params,
  tasks: readonly Task[],
  chunks: readonly (readonly Task[])[],
  kind: TaskGradientKind,
  options: AdaptOptions,
  pool: RunnableTaskPool,
): TaskResults {
  const parts: TaskResults[] = [];
  const { claim, wait } = pool.dispatch(params, tasks, kind, options, chunks[0]!.length);
  try {
    let remote: TaskJobResult[] = [];
    try {
      for (let index = claim(); index >= 0; index = claim()) parts[index] = batchedTaskResults(params, chunks[index]!, kind, options);
    } finally {
      remote = wait();
    }
    for (const result of remote) {
      result.indices.forEach((index, i) => {
        parts[index] = {
          adapted: paramsFromWire(result.adapted[i]!),
          taskGradients: result.taskGradients ? paramsFromWire(result.taskGradients[i]!) : undefined,
          queryLosses: result.queryLosses ? (fromWire(result.queryLosses[i]!) as tf.Tensor1D) : undefined,
        };
      });
    }
    if (parts.filter((part) => part !== undefined).length !== chunks.length) {
      throw new Error(`parallel batched execution returned ${parts.filter((part) => part !== undefined).length} of ${chunks.length} chunks`);
    }
    return concatenated(parts);
  } finally {
    parts.forEach((part) => part && disposeResults(part));
  }
}

/** Chunks' results concatenated along the task axis, in chunk order (new tensors). */
function concatenated(parts: readonly TaskResults[]): TaskResults {
  const concat = (pick: (part: TaskResults) => Params | undefined): Params | undefined => {
    const first = pick(parts[0]!);
    if (!first) return undefined;
    return Object.fromEntries(Object.keys(first).map((name) => [name, tf.concat(parts.map((part) => pick(part)![name]!))]));
  };
  const losses = parts.map((part) => part.queryLosses).filter((loss) => loss !== undefined);
  return {
    adapted: concat((part) => part.adapted)!,
    taskGradients: concat((part) => part.taskGradients),
    queryLosses: losses.length === parts.length ? (tf.concat(losses) as tf.Tensor1D) : undefined,
  };
}

function disposeResults(results: TaskResults): void {
  disposeParams(results.adapted);
  disposeParams(results.taskGradients);
  tf.dispose(results.queryLosses);
}

/** One batched pass over `tasks`: every task adapted from its own copy of θ, results stacked in task order. */
export function batchedTaskResults(params: Params, tasks: readonly Task[], kind: TaskGradientKind, options: AdaptOptions): TaskResults {
  const support = stackBatches(tasks.map((task) => task.support));
  const query = stackBatches(tasks.map((task) => task.query));
  // Each task starts from its own copy of θ; the gradient with respect to copy i is task i's gradient.
  const tiled = tileParams(params, tasks.length);
  try {
    return adaptAndDifferentiate(tiled, support, query, kind, options);
  } finally {
    disposeParams(tiled);
    tf.dispose([support.x, support.y, query.x, query.y]);
  }
}

/**
 * θ' for one task (or one stacked meta-batch), the gradient of the query loss it asks for, and that
 * query loss per task (a by-product of the differentiated forward pass, so the meta-step need not
 * run the query set again).
 */
export function adaptAndDifferentiate(params: Params, support: Batch, query: Batch, kind: TaskGradientKind, options: AdaptOptions): TaskResults {
  const names = Object.keys(params);
  let queryLosses: tf.Tensor1D | undefined;
  /** The differentiated scalar (exactly trainingLoss), keeping the per-task losses it sums. */
  const queryLoss = (values: Params): tf.Scalar => {
    const { losses, total } = queryLossTerms(values, query, options);
    queryLosses = tf.keep(losses);
    return total;
  };
  const modelNames = Object.keys(modelParamsOf(params, options.innerOptimizer));
  if (kind === "second-order") {
    // Through the inner loop the query loss depends on every model parameter and on the inner
    // optimizer's parameters of the adapted ones (Meta-SGD's rates); the rest get zero.
    const adaptedSet = new Set(adaptedNames(params, options));
    const target = options.innerOptimizer.ownParams?.target;
    const differentiated = names.filter((name) => {
      const owner = target?.(name);
      return owner === undefined || adaptedSet.has(owner);
    });
    let adapted: Params | undefined;
    const gradients = tf.tidy(() =>
      tf.grads((...values: tf.Tensor[]) => {
        adapted = keepParams(adapt({ ...params, ...zipNames(differentiated, values) }, support, options).params);
        return queryLoss(adapted);
      })(differentiated.map((name) => params[name]!)),
    );
    return { adapted: adapted!, taskGradients: withZeros(params, zipNames(differentiated, gradients)), queryLosses };
  }
  const adapted = tf.tidy(() => keepParams(adapt(params, support, options).params));
  if (kind === "none") return { adapted, taskGradients: undefined, queryLosses: undefined };
  // First order treats θ' as constant: only the model's own parameters reach the query loss, so an
  // inner optimizer's parameters (Meta-SGD's rates) get zero.
  const gradients = tf.tidy(() =>
    tf.grads((...values: tf.Tensor[]) => queryLoss({ ...adapted, ...zipNames(modelNames, values) }))(modelNames.map((name) => adapted[name]!)),
  );
  return { adapted, taskGradients: withZeros(params, zipNames(modelNames, gradients)), queryLosses };
}

/** `gradients` in the key order of `params`, zeros for the parameters it lacks. */
function withZeros(params: Params, gradients: Params): Params {
  const out: Record<string, tf.Tensor> = {};
  for (const [name, value] of Object.entries(params)) out[name] = gradients[name] ?? tf.zerosLike(value);
  return out;
}

/** trainingLoss as `total`, with its per-task terms: [T] when batched, [1] for one task. */
function queryLossTerms(params: Params, batch: Batch, options: AdaptOptions): { losses: tf.Tensor1D; total: tf.Scalar } {
  if (options.execution === "batched") {
    const losses = taskLosses(params, batch, options);
    return { losses, total: tf.sum(losses) };
  }
  const total = trainingLoss(params, batch, options);
  return { losses: tf.reshape(total, [1]), total };
}

/** Stacks the tasks' batches on a leading task axis. */
export function stackBatches(batches: readonly Batch[]): Batch {
  return { x: tf.stack(batches.map((batch) => batch.x)), y: tf.stack(batches.map((batch) => batch.y)) };
}

/** Batched execution needs a model and objective that support it and tasks of equal shapes. */
export function canBatch(tasks: readonly Task[], options: Pick<AdaptOptions, "model" | "objective">): boolean {
  if (!options.model.forwardBatched || !options.objective.taskLosses) return false;
  const first = tasks[0];
  if (!first) return false;
  const same = (a: tf.Tensor, b: tf.Tensor) => a.shape.length === b.shape.length && a.shape.every((size, i) => size === b.shape[i]);
  return tasks.every(
    (task) =>
      same(task.support.x, first.support.x) && same(task.support.y, first.support.y) && same(task.query.x, first.query.x) && same(task.query.y, first.query.y),
  );
}

export type { Execution };
