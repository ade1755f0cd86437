import * as tf from "@tensorflow/tfjs-core";
import { type Batch, ConcordError, expectInteger, type InnerOptimizer, type Model, type Objective, type Params } from "@concord/core";

/** How a model is run: one task at a time, or a whole meta-batch with a leading task axis. */
export type Execution = "per-task" | "batched";

export interface AdaptOptions {
  readonly model: Model;
  readonly objective: Objective;
  readonly innerOptimizer: InnerOptimizer;
  readonly innerSteps: number;
  /** "batched": params carry a leading task axis and batch tensors are [T, K, ...]. Default "per-task". */
  readonly execution?: Execution;
}

export interface Adapted {
  /** θ' after `innerSteps` steps; differentiable with respect to the input params. */
  readonly params: Params;
}

/**
 * The inner loop shared by every algorithm: θ' = step^k(θ), each step
 * θ ← innerOptimizer.step(θ, ∇_θ L_support(θ)). Built from differentiable ops only, so calling it
 * inside an outer tf.grads records the inner backward pass (second-order MAML).
 * In batched execution the differentiated loss is the *sum* of per-task losses, so each task's slice
 * of the gradient is that task's own gradient.
 */
export function adapt(params: Params, support: Batch, options: AdaptOptions): Adapted {
  expectInteger(options.innerSteps, "innerSteps", 0);
  let current: AdaptationState = { params, state: options.innerOptimizer.init(params) };
  for (let step = 0; step < options.innerSteps; step++) current = adaptStep(current, support, options);
  return { params: current.params };
}

/** Parameters and inner-optimizer state between two inner steps. */
export interface AdaptationState {
  readonly params: Params;
  readonly state: unknown;
}

/**
 * One inner step, the one `adapt()` repeats: θ ← innerOptimizer.step(θ, ∇_θ L_support(θ), state).
 * Starting from `{ params: θ, state: innerOptimizer.init(θ) }`, k calls give exactly `adapt()` with
 * k steps; callers that need every intermediate θ (evaluation after 0..S steps) step themselves.
 */
export function adaptStep(current: AdaptationState, support: Batch, options: Omit<AdaptOptions, "innerSteps">): AdaptationState {
  const names = Object.keys(current.params);
  const loss = (...values: tf.Tensor[]): tf.Scalar => trainingLoss(zipNames(names, values), support, options);
  const grads = tf.grads(loss)(names.map((name) => current.params[name]!));
  const next = options.innerOptimizer.step(current.params, zipNames(names, grads), current.state);
  return { params: next.params, state: next.state };
}

/** The scalar that is differentiated: the task loss, or the sum of task losses when batched. */
export function trainingLoss(params: Params, batch: Batch, options: Pick<AdaptOptions, "model" | "objective" | "execution">): tf.Scalar {
  if (options.execution === "batched") return tf.sum(taskLosses(params, batch, options));
  return options.objective.loss(options.model.forward(params, batch.x), batch.y);
}

/** One loss per task, [T], for stacked params and batches. */
export function taskLosses(params: Params, batch: Batch, options: Pick<AdaptOptions, "model" | "objective">): tf.Tensor1D {
  const { model, objective } = options;
  if (!model.forwardBatched || !objective.taskLosses) {
    throw new ConcordError(`model '${model.name}' with objective '${objective.name}' does not support batched execution`, {
      field: "execution",
    });
  }
  return objective.taskLosses(model.forwardBatched(params, batch.x), batch.y);
}

export function zipNames(names: readonly string[], values: readonly tf.Tensor[]): Params {
  const out: Record<string, tf.Tensor> = {};
  names.forEach((name, i) => {
    out[name] = values[i]!;
  });
  return out;
}
