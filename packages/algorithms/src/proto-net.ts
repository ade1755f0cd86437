import * as tf from "@tensorflow/tfjs-core";
import { differentiatedKernels, isConcordInstalled, kernelsWithoutConcordGradient } from "@concord/backend";
import {
  checkWeights,
  ConcordError,
  disposeParams,
  flattenStackedParams,
  mapParams,
  type MetaAlgorithm,
  type MetaStepContext,
  type MetaStepResult,
  type Model,
  type Objective,
  type Params,
  stackParams,
  type Task,
} from "@concord/core";
import type { EvaluationOptions, EvaluationResult } from "./evaluate-adaptation.js";
import { NOT_INSTALLED_MESSAGE } from "./gradient-guard.js";
import { effectiveTaskCount, meanPairwiseCosine, weightedDirectionCosine } from "./meta-step.js";
import { evaluatePrototypes } from "./proto-net-evaluation.js";
import { prototypeTaskLoss } from "./proto-net-loss.js";

/** A meta-algorithm that scores held-out tasks its own way (the runner's evaluation asks it first). */
export interface SelfEvaluatingAlgorithm extends MetaAlgorithm {
  evaluate(params: Params, options: EvaluationOptions): EvaluationResult;
}

/** True when `algorithm` brings its own held-out evaluation (protoNet). */
export function hasOwnEvaluation(algorithm: MetaAlgorithm | undefined): algorithm is SelfEvaluatingAlgorithm {
  return typeof (algorithm as Partial<SelfEvaluatingAlgorithm> | undefined)?.evaluate === "function";
}

/**
 * Prototypical Networks (Snell, Swersky & Zemel 2017) with task weights. The model is an embedding
 * network f_θ (e.g. convNet({ ways: 0 }); with batchNorm "support" every image is normalised by its
 * task's support-set statistics). For task i, c_k = mean of f_θ(x) over the support images of class k,
 * z_qk = −‖f_θ(x_q) − c_k‖², and L_i(θ) = objective(z, y_query) (cross-entropy: Snell et al.'s loss).
 * It adapts instantly: the prototypes are the classifier, there is no inner loop.
 *
 * Weighting: each task's update is defined as one unit gradient step on its own loss,
 * θ'_i = θ − ∇_θ L_i(θ), so g_i = θ − θ'_i = ∇_θ L_i(θ) — the vector every weighting scheme compares
 * (gradient agreement then weighs tasks by how their loss gradients agree, as for first-order MAML
 * with θ'_i = θ). The meta-gradient is d = Σ_i w_i ∇_θ L_i(θ); uniform weights give the plain
 * averaged ProtoNet gradient. Exact at first order (nothing is differentiated twice).
 */
export function protoNet(): SelfEvaluatingAlgorithm {
  return {
    name: "proto-net",
    step: (context) => protoNetStep(context),
    evaluate: (params, options) => evaluatePrototypes(params, options),
  };
}

function protoNetStep(context: MetaStepContext): MetaStepResult {
  const { params, tasks, model, objective, weighting } = context;
  validate(context);
  const names = Object.keys(params);
  const perTaskGradients: Params[] = [];
  const losses: tf.Scalar[] = [];
  try {
    for (const task of tasks) {
      // ∇_θ L_i and L_i in one pass.
      let loss: tf.Scalar | undefined;
      const gradients = tf.tidy(() =>
        tf.grads((...values: tf.Tensor[]) => {
          const current = Object.fromEntries(names.map((name, i) => [name, values[i]!]));
          const value = prototypeTaskLoss(model, objective, current, task.support, task.query);
          loss = tf.keep(tf.clone(value));
          return value;
        })(names.map((name) => params[name]!)),
      );
      losses.push(loss!);
      perTaskGradients.push(Object.fromEntries(names.map((name, i) => [name, gradients[i]!])));
    }
    let metrics: MetaStepResult["metrics"] | undefined;
    const metaGradient = tf.tidy(() => {
      const stacked = stackParams(perTaskGradients);
      const updates = flattenStackedParams(stacked);
      const taskLosses = tf.stack(losses) as tf.Tensor1D;
      const groups = tasks.map((task) => task.group);
      const everyGroup = groups.every((group): group is number => typeof group === "number");
      const result = weighting.weights({ updates, losses: taskLosses, iteration: context.iteration, ...(everyGroup ? { groups } : {}) });
      const weightValues = checkWeights(result, tasks.length, weighting.name);
      const direction = mapParams(stacked, (value) => weightedSum(result.weights, value));
      const queryLoss = tf.mean(taskLosses).dataSync()[0]!;
      metrics = {
        // No inner loop: the query loss is the same before and after "adaptation"; the support set is not scored.
        supportLossBefore: Number.NaN,
        supportLossAfter: Number.NaN,
        queryLossBefore: queryLoss,
        queryLossAfter: queryLoss,
        weights: weightValues,
        fellBack: result.fellBack === true,
        meanPairwiseCosine: meanPairwiseCosine(updates),
        effectiveTasks: effectiveTaskCount(weightValues),
        weightedCosine: weightedDirectionCosine(stacked, direction, weightValues),
      };
      return direction;
    });
    return { metaGradient, metrics: metrics! };
  } finally {
    perTaskGradients.forEach(disposeParams);
    tf.dispose(losses);
  }
}

/** Σ_i w_i X_i over the leading task axis, as one matMul. */
function weightedSum(weights: tf.Tensor1D, stacked: tf.Tensor): tf.Tensor {
  const tasks = stacked.shape[0]!;
  return tf.reshape(tf.matMul(tf.reshape(weights, [1, tasks]), tf.reshape(stacked, [tasks, -1])), stacked.shape.slice(1));
}

/** (model, objective) → backends whose differentiated kernels were all found to have Concord gradients. */
const checked = new WeakMap<Model, WeakMap<Objective, Set<string>>>();

function validate(context: MetaStepContext): void {
  const { tasks, params, model, objective } = context;
  if (!Array.isArray(tasks) || tasks.length === 0) throw new ConcordError("expected a non-empty meta-batch of tasks", { field: "tasks" });
  tasks.forEach((task: Task, i) => {
    for (const set of ["support", "query"] as const) {
      const batch = task?.[set];
      if (!(batch?.x instanceof tf.Tensor) || !(batch.y instanceof tf.Tensor) || batch.x.shape[0] !== batch.y.shape[0]) {
        throw new ConcordError("expected { x: Tensor, y: Tensor } with one label per example", { field: `tasks[${i}].${set}` });
      }
    }
  });
  if (Object.keys(params).length === 0) throw new ConcordError("expected at least one parameter", { field: "params" });
  if (!isConcordInstalled()) throw new ConcordError(NOT_INSTALLED_MESSAGE, { field: "backend" });
  const byObjective = checked.get(model) ?? new WeakMap<Objective, Set<string>>();
  checked.set(model, byObjective);
  const backends = byObjective.get(objective) ?? new Set<string>();
  byObjective.set(objective, backends);
  if (backends.has(tf.getBackend())) return;
  const task = tasks[0]!;
  const names = Object.keys(params);
  const kernels = kernelsWithoutConcordGradient(
    differentiatedKernels(
      () => prototypeTaskLoss(model, objective, params, task.support, task.query),
      names.map((name) => params[name]!),
    ),
  );
  if (kernels.length > 0) {
    throw new ConcordError(`model '${model.name}' with objective '${objective.name}' uses kernels without a Concord gradient: ${kernels.join(", ")}`, {
      field: "model",
    });
  }
  backends.add(tf.getBackend());
}
