// Refuses to differentiate when TensorFlow.js would not use Concord's gradients: without them a
// second-order meta-gradient can be silently wrong (tfjs's own gradients of Exp, Tanh, Sigmoid,
// Softmax, … are wrong at second order) or fail deep inside tfjs.
import * as tf from "@tensorflow/tfjs-core";
import { differentiatedKernels, isConcordInstalled, kernelsWithoutConcordGradient } from "@concord/backend";
import { ConcordError, type Model, modelParamsOf, type Objective, type Params, type Task, tileParams } from "@concord/core";
import { type AdaptOptions, trainingLoss } from "./adapt.js";
import { stackBatches } from "./task-results.js";

export const NOT_INSTALLED_MESSAGE =
  "Concord's gradient set is not installed: call `await useBackend()` from @concord/backend before training " +
  "(without it second-order gradients can be silently wrong)";

/** (model, objective) → the backend/execution pairs whose kernels were found supported. */
const checked = new WeakMap<Model, WeakMap<Objective, Set<string>>>();

/**
 * Throws a ConcordError unless (a) Concord's gradient set is the one registered in tfjs (checked
 * every call: about 70 map look-ups, and something may have re-registered tfjs's own since), and
 * (b) every kernel that the model's forward pass and the objective's loss run between the
 * parameters and the loss has a Concord gradient. (b) runs the loss once on the first task's support
 * set under a tape, only the first time for this model, objective, backend and execution.
 */
export function expectConcordGradients(params: Params, tasks: readonly Task[], options: AdaptOptions): void {
  if (!isConcordInstalled()) throw new ConcordError(NOT_INSTALLED_MESSAGE, { field: "backend" });
  const { model, objective, execution = "per-task" } = options;
  const key = `${tf.getBackend()}/${execution}`;
  const byObjective = checked.get(model) ?? new WeakMap<Objective, Set<string>>();
  checked.set(model, byObjective);
  const keys = byObjective.get(objective) ?? new Set<string>();
  byObjective.set(objective, keys);
  if (keys.has(key)) return;

  const support = tasks[0]!.support;
  const values = Object.values(modelParamsOf(params, options.innerOptimizer));
  const batched = execution === "batched";
  const forward = () =>
    batched
      ? model.forwardBatched!(tileParams(modelParamsOf(params, options.innerOptimizer), 1), tf.stack([support.x]))
      : model.forward(modelParamsOf(params, options.innerOptimizer), support.x);
  const loss = () => (batched ? trainingLoss(tileParams(params, 1), stackBatches([support]), options) : trainingLoss(params, support, options));
  const inForward = kernelsWithoutConcordGradient(differentiatedKernels(forward, values));
  const inLoss = kernelsWithoutConcordGradient(differentiatedKernels(loss, values)).filter((name) => !inForward.includes(name));
  const [kernels, owner, field] = inForward.length > 0 ? [inForward, `model '${model.name}'`, "model"] : [inLoss, `objective '${objective.name}'`, "objective"];
  if (kernels.length > 0) {
    const which = kernels.length === 1 ? `the ${kernels[0]} kernel, which has` : `the ${kernels.join(", ")} kernels, which have`;
    throw new ConcordError(
      `${owner} uses ${which} no Concord gradient (its second-order gradient would be tfjs's own, which can be ` +
        `silently wrong, or missing); write it with ops whose kernels are supported. Supported kernels: see SUPPORTED_KERNELS from @concord/backend`,
      { field },
    );
  }
  keys.add(key);
}
