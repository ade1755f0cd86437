import * as tf from "@tensorflow/tfjs-core";
import { assertSameKeys, ConcordError, type InnerOptimizer, type InnerOptimizerParams, type Params } from "@concord/core";
import { expectLearningRate, expectOptions } from "./validate.js";

export interface MetaSgdOptions {
  /** Initial value of every per-element rate; a finite number > 0. */
  readonly lr: number;
}

/** The rates of the parameters in the map the inner loop started from, keyed by parameter name. */
export interface MetaSgdState {
  readonly rates: Params;
}

export interface MetaSgd extends InnerOptimizer<MetaSgdState> {
  readonly config: Readonly<MetaSgdOptions>;
  readonly ownParams: InnerOptimizerParams;
}

/** Prefix of the rate of parameter `name` in the parameter map: `lr/<name>`. */
export const META_SGD_RATE_PREFIX = "lr/";

/**
 * Meta-SGD (Li et al. 2017): θ' = θ − a ⊙ ∇_θ L_support(θ) with a learned rate per parameter element.
 *
 * The rates are parameters: `ownParams.init(modelParams)` makes `lr/<name>` (the parameter's shape,
 * filled with `lr`), stored in the same map as the model's, so the outer optimizer learns them and
 * checkpoints, resume and evaluation carry them. `init(params)` picks them out of the map the inner
 * loop starts from (they stay on the tape: second-order MAML differentiates the query loss with
 * respect to them too; first order gives them zero gradient, since θ' is then held constant).
 * `step` adapts the parameters it is given with their rates, elementwise, so it runs on a leading
 * task axis too (the rates are tiled with the parameters). Parameter names must not start with "lr/".
 */
export function metaSgd(options: MetaSgdOptions): MetaSgd {
  expectOptions(options, "metaSgd");
  const lr = options?.lr;
  expectLearningRate(lr, "lr");
  const target = (name: string): string | undefined => (name.startsWith(META_SGD_RATE_PREFIX) ? name.slice(META_SGD_RATE_PREFIX.length) : undefined);
  return {
    name: "meta-sgd",
    config: { lr },
    ownParams: {
      init(modelParams) {
        const rates: Record<string, tf.Tensor> = {};
        for (const [name, value] of Object.entries(modelParams)) {
          if (target(name) !== undefined) {
            throw new ConcordError(`model parameter '${name}' starts with '${META_SGD_RATE_PREFIX}', which names Meta-SGD's rates`, { field: "params" });
          }
          rates[`${META_SGD_RATE_PREFIX}${name}`] = tf.fill(value.shape, lr, "float32");
        }
        return rates;
      },
      target,
    },
    init(params) {
      const rates: Record<string, tf.Tensor> = {};
      for (const [name, value] of Object.entries(params)) {
        const owner = target(name);
        if (owner !== undefined) rates[owner] = value;
      }
      return { rates };
    },
    step(params, grads, state) {
      assertSameKeys(params, grads, "grads");
      const next = tf.tidy(() => {
        const out: Record<string, tf.Tensor> = {};
        for (const [name, value] of Object.entries(params)) {
          const rate = state?.rates?.[name];
          if (!rate) {
            throw new ConcordError(
              `expected the rate '${META_SGD_RATE_PREFIX}${name}' in the parameter map (add Meta-SGD's rates with ownParams.init / withInnerOptimizerParams)`,
              { field: "params" },
            );
          }
          out[name] = tf.sub(value, tf.mul(rate, grads[name]!));
        }
        return out;
      });
      return { params: next, state };
    },
  };
}
