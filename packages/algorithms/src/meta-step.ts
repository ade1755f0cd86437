import * as tf from "@tensorflow/tfjs-core";
import {
  type AdaptSelection,
  checkWeights,
  ConcordError,
  disposeParams,
  expectInteger,
  mapParams,
  type MetaStepContext,
  type MetaStepMetrics,
  type MetaStepResult,
  type Params,
  sliceTaskParams,
  type Task,
  tileParams,
} from "@concord/core";
import { type AdaptOptions, adaptedNames, type Execution, taskLosses, trainingLoss } from "./adapt.js";
import { expectConcordGradients } from "./gradient-guard.js";
import type { TaskPool } from "./parallel/pool-contract.js";
import { canBatch, computeTaskResults, stackBatches, type TaskGradientKind, taskChunks } from "./task-results.js";
import { updatesFromAdapted } from "./task-updates.js";

/** "auto" batches when the model, objective and task shapes allow it (and the model does not prefer per-task), else runs task by task. */
export type ExecutionOption = Execution | "auto";

export interface MetaStepOptions {
  readonly innerSteps: number;
  readonly execution: ExecutionOption;
  /** Compute support/query losses before and after adaptation and the mean pairwise cosine. */
  readonly diagnostics: boolean;
  /** Worker threads for per-task execution (createTaskPool from @concord/algorithms/node). */
  readonly pool?: TaskPool | undefined;
  /** Which parameters the inner loop adapts (ANIL: "head"). Default "all". */
  readonly adapt?: AdaptSelection | undefined;
  /** Batched execution: at most this many tasks per batched pass (bounds memory). Default: the whole meta-batch. */
  readonly chunkSize?: number | undefined;
}

/**
 * One weighted meta-iteration shared by MAML and Reptile:
 * 1. θ'_i and the per-task meta-gradient G_i (G_i = g_i = θ − θ'_i for Reptile);
 * 2. w = weighting.weights(g_1..g_N), checked for shape and finiteness;
 * 3. d = Σ_i w_i G_i.
 * g_i spans the whole parameter map and is zero on every entry the inner loop does not adapt (an
 * inner optimizer's own parameters such as Meta-SGD's rates; ANIL's body). Zeros change no dot
 * product or norm, so the weighting sees exactly the updates of the adapted model parameters.
 */
export function weightedMetaStep(context: MetaStepContext, kind: TaskGradientKind, options: MetaStepOptions): MetaStepResult {
  validateContext(context, options);
  const { params, tasks, weighting } = context;
  const adaptOptions: AdaptOptions = {
    model: context.model,
    objective: context.objective,
    innerOptimizer: context.innerOptimizer,
    innerSteps: options.innerSteps,
    execution: resolveExecution(options.execution, tasks, context),
    ...(options.adapt !== undefined ? { adapt: options.adapt } : {}),
  };
  adaptedNames(params, adaptOptions); // a bad selection fails here, before any work
  expectConcordGradients(params, tasks, adaptOptions);
  const results = computeTaskResults(params, tasks, kind, adaptOptions, { pool: options.pool, chunkSize: options.chunkSize });
  try {
    let metrics: MetaStepMetrics | undefined;
    const metaGradient = tf.tidy(() => {
      // g_i = θ − θ'_i for every task at once: θ broadcasts over the leading task axis.
      const { differences, updates } = updatesFromAdapted(params, results.adapted);
      // The differentiated query losses when there are any (MAML); Reptile evaluates the query set here.
      const queryAfter = results.queryLosses ?? lossesPerTask(results.adapted, tasks, "query", adaptOptions, options.chunkSize);
      const groups = taskGroups(tasks);
      const result = weighting.weights({ updates, losses: queryAfter, iteration: context.iteration, ...(groups ? { groups } : {}) });
      checkWeights(result, tasks.length, weighting.name);
      const weights = result.weights;
      const weightValues = Array.from(weights.dataSync());
      const perTaskDirections = results.taskGradients ?? differences;
      const direction = mapParams(perTaskDirections, (stacked) => weightedSum(weights, stacked)) as Record<string, tf.Tensor>;
      metrics = {
        ...describeStep(context, adaptOptions, results.adapted, updates, queryAfter, weightValues, result.fellBack === true, options),
        effectiveTasks: effectiveTaskCount(weightValues),
        weightedCosine: weightedDirectionCosine(perTaskDirections, direction, weightValues),
      };
      return direction;
    });
    return { metaGradient, metrics: metrics! };
  } finally {
    disposeParams(results.adapted);
    disposeParams(results.taskGradients);
    tf.dispose(results.queryLosses);
  }
}

/** Each task's group id when every task of the batch has one (its sampler declares groups), else undefined. */
function taskGroups(tasks: readonly Task[]): number[] | undefined {
  const groups = tasks.map((task) => task.group);
  return groups.every((group): group is number => typeof group === "number") ? groups : undefined;
}

/** Σ_i w_i X_i over the leading task axis, as one matMul. */
function weightedSum(weights: tf.Tensor1D, stacked: tf.Tensor): tf.Tensor {
  const tasks = stacked.shape[0]!;
  const rows = tf.reshape(stacked, [tasks, -1]);
  return tf.reshape(tf.matMul(tf.reshape(weights, [1, tasks]), rows), stacked.shape.slice(1));
}

function describeStep(
  context: MetaStepContext,
  adaptOptions: AdaptOptions,
  adapted: Params,
  updates: tf.Tensor2D,
  queryAfter: tf.Tensor1D,
  weightValues: number[],
  fellBack: boolean,
  options: MetaStepOptions,
): Omit<MetaStepMetrics, "effectiveTasks" | "weightedCosine"> {
  const mean = (losses: tf.Tensor1D) => tf.mean(losses).dataSync()[0]!;
  if (!options.diagnostics) {
    return {
      supportLossBefore: Number.NaN,
      supportLossAfter: Number.NaN,
      queryLossBefore: Number.NaN,
      queryLossAfter: mean(queryAfter),
      weights: weightValues,
      fellBack,
      meanPairwiseCosine: Number.NaN,
    };
  }
  const start = tileParams(context.params, context.tasks.length);
  return {
    supportLossBefore: mean(lossesPerTask(start, context.tasks, "support", adaptOptions, options.chunkSize)),
    supportLossAfter: mean(lossesPerTask(adapted, context.tasks, "support", adaptOptions, options.chunkSize)),
    queryLossBefore: mean(lossesPerTask(start, context.tasks, "query", adaptOptions, options.chunkSize)),
    queryLossAfter: mean(queryAfter),
    weights: weightValues,
    fellBack,
    meanPairwiseCosine: meanPairwiseCosine(updates),
  };
}

/** Per-task losses [T] of stacked params on each task's support or query set (batched: `chunkSize` tasks per pass). */
export function lossesPerTask(stacked: Params, tasks: readonly Task[], set: "support" | "query", options: AdaptOptions, chunkSize?: number): tf.Tensor1D {
  return tf.tidy(() => {
    if (options.execution === "batched") {
      let start = 0;
      const losses = taskChunks(tasks, chunkSize).map((chunk) =>
        tf.tidy(() => {
          const params = chunk.length === tasks.length ? stacked : mapParams(stacked, (value) => tf.slice(value, [start], [chunk.length]));
          start += chunk.length;
          return taskLosses(params, stackBatches(chunk.map((task) => task[set])), options);
        }),
      );
      return (losses.length === 1 ? losses[0]! : tf.concat(losses)) as tf.Tensor1D;
    }
    return tf.stack(tasks.map((task, i) => trainingLoss(sliceTaskParams(stacked, i), task[set], options))) as tf.Tensor1D;
  });
}

/** (Σ_i |w_i|)² / Σ_i w_i²: how many tasks the weights effectively average over. */
export function effectiveTaskCount(weights: readonly number[]): number {
  let absolute = 0;
  let squares = 0;
  for (const w of weights) {
    absolute += Math.abs(w);
    squares += w * w;
  }
  return squares > 0 ? (absolute * absolute) / squares : Number.NaN;
}

/**
 * cos(Σ_i w_i G_i, Σ_i G_i) over all parameters, from the stacked per-task directions [T, ...] and
 * the weighted direction already formed. Equal positive weights give exactly 1 without any work, so
 * uniform weighting adds no kernels to the meta-step.
 */
export function weightedDirectionCosine(stackedDirections: Params, weighted: Params, weights: readonly number[]): number {
  if (weights.length > 0 && weights[0]! > 0 && weights.every((w) => w === weights[0])) return 1;
  return tf.tidy(() => {
    const names = Object.keys(weighted);
    const uniform = tf.concat(names.map((name) => tf.reshape(tf.sum(stackedDirections[name]!, 0), [-1])));
    const direction = tf.concat(names.map((name) => tf.reshape(weighted[name]!, [-1])));
    const [dot, uniformSquared, directionSquared] = tf
      .stack([tf.sum(tf.mul(uniform, direction)), tf.sum(tf.square(uniform)), tf.sum(tf.square(direction))])
      .dataSync();
    const norms = Math.sqrt(uniformSquared!) * Math.sqrt(directionSquared!);
    return norms > 0 ? dot! / norms : Number.NaN;
  });
}

/**
 * Mean cosine similarity over pairs i ≠ j, in O(N·P): with unit rows u_i,
 * Σ_{i≠j} u_iᵀu_j = ‖Σ_i u_i‖² − Σ_i ‖u_i‖². NaN for a single task.
 */
export function meanPairwiseCosine(updates: tf.Tensor2D): number {
  const tasks = updates.shape[0];
  if (tasks < 2) return Number.NaN;
  return tf.tidy(() => {
    const norms = tf.sqrt(tf.sum(tf.square(updates), 1, true));
    const units = tf.div(updates, tf.maximum(norms, 1e-30));
    const total = tf.sum(tf.square(tf.sum(units, 0)));
    const self = tf.sum(tf.square(units));
    return tf.div(tf.sub(total, self), tasks * (tasks - 1)).dataSync()[0]!;
  });
}

function resolveExecution(option: ExecutionOption, tasks: readonly Task[], context: MetaStepContext): Execution {
  if (option === "per-task") return "per-task";
  const batchable = canBatch(tasks, context);
  if (option === "batched" && !batchable) {
    throw new ConcordError(
      `batched execution needs a model with forwardBatched, an objective with taskLosses and tasks of equal shapes ('${context.model.name}', '${context.objective.name}')`,
      { field: "execution" },
    );
  }
  // "auto" follows the model's preference (convNet: per-task, see Model.preferredExecution).
  if (option === "auto" && context.model.preferredExecution === "per-task") return "per-task";
  return batchable ? "batched" : "per-task";
}

function validateContext(context: MetaStepContext, options: MetaStepOptions): void {
  expectInteger(options.innerSteps, "innerSteps", 1);
  if (options.chunkSize !== undefined) expectInteger(options.chunkSize, "chunkSize", 1);
  if (!Array.isArray(context.tasks) || context.tasks.length === 0) {
    throw new ConcordError("expected a non-empty meta-batch of tasks", { field: "tasks" });
  }
  context.tasks.forEach((task, i) => {
    for (const set of ["support", "query"] as const) {
      const batch = task?.[set];
      if (!(batch?.x instanceof tf.Tensor) || !(batch.y instanceof tf.Tensor)) {
        throw new ConcordError("expected { x: Tensor, y: Tensor }", { field: `tasks[${i}].${set}` });
      }
      if (batch.x.shape[0] !== batch.y.shape[0]) {
        throw new ConcordError(`expected x and y with the same number of examples, got x [${batch.x.shape}] and y [${batch.y.shape}]`, {
          field: `tasks[${i}].${set}`,
        });
      }
    }
  });
  if (Object.keys(context.params).length === 0) throw new ConcordError("expected at least one parameter", { field: "params" });
}
