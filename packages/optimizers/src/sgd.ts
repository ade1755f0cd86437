import * as tf from "@tensorflow/tfjs-core";
import {
  ConcordError,
  assertSameKeys,
  type InnerOptimizer,
  type OuterOptimizer,
  type OuterOptimizerState,
  type Params,
  SGD_STEP_KERNEL,
  zipParams,
} from "@concord/core";
import { expectLearningRate, expectOptions, expectStateHeader } from "./validate.js";

export interface SgdOptions {
  /** Learning rate (α as inner optimizer, β as outer optimizer); a finite number > 0. */
  readonly lr: number;
}

/** SGD keeps no state in the inner loop. */
export type SgdState = null;

/** Plain gradient descent in both roles: a differentiable inner optimizer and an outer optimizer. */
export interface Sgd extends InnerOptimizer<SgdState>, OuterOptimizer {
  readonly config: Readonly<SgdOptions>;
}

/**
 * Gradient descent θ' = θ − lr·g.
 *
 * - As the inner optimizer, `step(params, grads, null)` is a pure function built from
 *   differentiable ops, elementwise, so it also runs on parameters with a leading task axis.
 * - As the outer optimizer, `apply(params, d)` returns θ − lr·d and counts steps; its state has
 *   no slots.
 *
 * One factory serves both roles because the rule is the same and inner use keeps no state, so a
 * config can say `sgd` for either; the two roles normally get two instances with different lr.
 */
export function sgd(options: SgdOptions): Sgd {
  expectOptions(options, "sgd");
  const lr = options?.lr;
  expectLearningRate(lr, "lr");
  let step = 0;
  let disposed = false;
  const descend = (params: Params, grads: Params): Params =>
    tf.tidy(() => zipParams(params, grads, (value, grad) => fusedSgdStep(value, grad, lr) ?? tf.sub(value, tf.mul(grad, lr))) as Record<string, tf.Tensor>);
  const live = () => {
    if (disposed) throw new ConcordError("optimizer 'sgd' was disposed", { field: "optimizer" });
  };

  return {
    name: "sgd",
    config: { lr },
    init: () => null,
    step(params, grads) {
      assertSameKeys(params, grads, "grads");
      return { params: descend(params, grads), state: null };
    },
    apply(params, metaGradient) {
      live();
      assertSameKeys(params, metaGradient, "metaGradient");
      const next = descend(params, metaGradient);
      step += 1;
      return next;
    },
    getState(): OuterOptimizerState {
      live();
      return { name: "sgd", step, slots: {} };
    },
    setState(state) {
      live();
      expectStateHeader(state, "sgd");
      const names = Object.keys(state.slots);
      if (names.length > 0) throw new ConcordError(`sgd keeps no slots, got [${names.join(", ")}]`, { field: "state.slots" });
      step = state.step;
    },
    dispose() {
      disposed = true;
    },
  };
}

/**
 * θ − lr·g from the fused kernel ({@link SGD_STEP_KERNEL}, registered with its gradient by
 * @concord/backend's setup call; the same bits as the ops, also through its gradient) when kernel
 * and gradient are registered for the current backend and θ, g are float32 of one shape; else
 * undefined (run the ops instead).
 */
function fusedSgdStep(param: tf.Tensor, grad: tf.Tensor, lr: number): tf.Tensor | undefined {
  if (param.dtype !== "float32" || grad.dtype !== "float32" || !tf.util.arraysEqual(param.shape, grad.shape)) return undefined;
  if (!tf.getKernel(SGD_STEP_KERNEL, tf.getBackend()) || !tf.getGradient(SGD_STEP_KERNEL)) return undefined;
  return tf.engine().runKernel(SGD_STEP_KERNEL, { param, grad }, { lr }) as tf.Tensor;
}
