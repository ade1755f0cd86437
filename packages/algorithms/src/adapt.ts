import * as tf from "@tensorflow/tfjs-core";
import {
  type AdaptSelection,
  type Batch,
  ConcordError,
  expectInteger,
  type InnerOptimizer,
  type Model,
  modelParamsOf,
  type Objective,
  type Params,
} from "@concord/core";

/** How a model is run: one task at a time, or a whole meta-batch with a leading task axis. */
export type Execution = "per-task" | "batched";

export interface AdaptOptions {
  readonly model: Model;
  readonly objective: Objective;
  readonly innerOptimizer: InnerOptimizer;
  readonly innerSteps: number;
  /** "batched": params carry a leading task axis and batch tensors are [T, K, ...]. Default "per-task". */
  readonly execution?: Execution;
  /** Which parameters the inner loop adapts (ANIL: "head"); the others are carried over unchanged. Default "all". */
  readonly adapt?: AdaptSelection;
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
  adaptedNames(params, options); // fails on a bad selection even with 0 steps
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
 * One inner step, the one `adapt()` repeats: θ_A ← innerOptimizer.step(θ_A, ∇_θ_A L_support(θ), state)
 * for the adapted parameters A (adaptedNames); every other entry is carried over as a new handle
 * (tf.clone), so the result owns all its tensors. Starting from `{ params: θ, state: innerOptimizer.init(θ) }`,
 * k calls give exactly `adapt()` with k steps; callers that need every intermediate θ (evaluation
 * after 0..S steps) step themselves.
 */
export function adaptStep(current: AdaptationState, support: Batch, options: Omit<AdaptOptions, "innerSteps">): AdaptationState {
  const names = adaptedNames(current.params, options);
  const loss = (...values: tf.Tensor[]): tf.Scalar => trainingLoss({ ...current.params, ...zipNames(names, values) }, support, options);
  const grads = tf.grads(loss)(names.map((name) => current.params[name]!));
  const adapted = Object.fromEntries(names.map((name) => [name, current.params[name]!]));
  const next = options.innerOptimizer.step(adapted, zipNames(names, grads), current.state);
  const params: Record<string, tf.Tensor> = {};
  for (const [name, value] of Object.entries(current.params)) params[name] = next.params[name] ?? tf.clone(value);
  return { params, state: next.state };
}

/**
 * The names of `params` the inner loop adapts, in map order: the selection (default "all"; "head"
 * is `model.head`) without the inner optimizer's own parameters. Throws a ConcordError (field
 * "adapt") for a selection naming a parameter the model does not have, or "head" on a model without one.
 */
export function adaptedNames(params: Params, options: Pick<AdaptOptions, "model" | "innerOptimizer" | "adapt">): string[] {
  const modelNames = Object.keys(modelParamsOf(params, options.innerOptimizer));
  const selection = options.adapt ?? "all";
  if (selection === "all") return modelNames;
  let wanted: readonly string[];
  if (selection === "head") {
    if (!Array.isArray(options.model.head) || options.model.head.length === 0) {
      throw new ConcordError(`model '${options.model.name}' does not say which parameters form its head (Model.head); name the parameters to adapt instead`, {
        field: "adapt",
      });
    }
    wanted = options.model.head;
  } else {
    wanted = validateAdaptSelection(selection) as readonly string[];
  }
  const unknown = wanted.filter((name) => !modelNames.includes(name));
  if (unknown.length > 0) {
    throw new ConcordError(`expected names of model parameters [${modelNames.join(", ")}], got unknown [${unknown.join(", ")}]`, { field: "adapt" });
  }
  return modelNames.filter((name) => wanted.includes(name));
}

/** Checks the form of an adapt option: "all", "head" or a non-empty array of parameter names. */
export function validateAdaptSelection(value: unknown): AdaptSelection {
  const names = Array.isArray(value) && value.length > 0 && value.every((name) => typeof name === "string" && name.length > 0);
  if (value !== "all" && value !== "head" && !names) {
    throw new ConcordError(`expected "all", "head" or a non-empty array of parameter names, got ${JSON.stringify(value)}`, { field: "adapt" });
  }
  return value as AdaptSelection;
}

/**
 * The scalar that is differentiated: the task loss, or the sum of task losses when batched. The
 * model sees only its own parameters (an inner optimizer's ownParams are left out).
 */
export function trainingLoss(
  params: Params,
  batch: Batch,
  options: Pick<AdaptOptions, "model" | "objective" | "execution"> & { readonly innerOptimizer?: InnerOptimizer },
): tf.Scalar {
  if (options.execution === "batched") return tf.sum(taskLosses(params, batch, options));
  return options.objective.loss(options.model.forward(modelParamsOf(params, options.innerOptimizer), batch.x), batch.y);
}

/** One loss per task, [T], for stacked params and batches (the model sees only its own parameters). */
export function taskLosses(
  stackedParams: Params,
  batch: Batch,
  options: Pick<AdaptOptions, "model" | "objective"> & { readonly innerOptimizer?: InnerOptimizer },
): tf.Tensor1D {
  const { model, objective } = options;
  const params = modelParamsOf(stackedParams, options.innerOptimizer);
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
