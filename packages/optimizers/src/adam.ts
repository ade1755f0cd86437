import * as tf from "@tensorflow/tfjs-core";
import {
  ADAM_UPDATE_KERNEL,
  type AdamUpdateAttrs,
  ConcordError,
  assertSameKeys,
  type OuterOptimizer,
  type OuterOptimizerState,
  type Params,
} from "@concord/core";
import { expectDecayRate, expectLearningRate, expectNonNegative, expectOptions, expectStateHeader } from "./validate.js";

export interface AdamOptions {
  /** Step size; a finite number > 0. */
  readonly lr: number;
  /** Decay of the first-moment average, in [0, 1). Default 0.9. */
  readonly beta1?: number;
  /** Decay of the second-moment average, in [0, 1). Default 0.999. */
  readonly beta2?: number;
  /** Added to √v̂ in the denominator; a finite number ≥ 0. Default 1e-8. */
  readonly epsilon?: number;
}

/** Adam as an outer optimizer, with its resolved options. */
export interface Adam extends OuterOptimizer {
  readonly config: Readonly<Required<AdamOptions>>;
}

interface Moments {
  readonly m: tf.Tensor;
  readonly v: tf.Tensor;
}

/**
 * Adam (Kingma & Ba, 2015) with PyTorch's update (torch.optim.Adam, no weight decay), at step t:
 *
 *     m ← β1·m + (1 − β1)·d        v ← β2·v + (1 − β2)·d²
 *     θ ← θ − (lr / (1 − β1ᵗ)) · m / (√v / √(1 − β2ᵗ) + ε)      i.e. θ − lr·m̂ / (√v̂ + ε)
 *
 * The moments m, v start at zero on the first `apply` and are the state's slots
 * "m/<param>" and "v/<param>"; `getState` returns copies and `setState` restores them exactly, so
 * a resumed run is bit-identical to an uninterrupted one.
 */
export function adam(options: AdamOptions): Adam {
  expectOptions(options, "adam");
  const { lr, beta1 = 0.9, beta2 = 0.999, epsilon = 1e-8 } = options ?? ({} as Partial<AdamOptions>);
  expectLearningRate(lr, "lr");
  expectDecayRate(beta1, "beta1");
  expectDecayRate(beta2, "beta2");
  expectNonNegative(epsilon, "epsilon");

  let step = 0;
  let moments = new Map<string, Moments>();
  let disposed = false;
  const live = () => {
    if (disposed) throw new ConcordError("optimizer 'adam' was disposed", { field: "optimizer" });
  };
  const disposeMoments = () => {
    for (const { m, v } of moments.values()) tf.dispose([m, v]);
    moments = new Map();
  };

  return {
    name: "adam",
    config: { lr, beta1, beta2, epsilon },
    apply(params, metaGradient) {
      live();
      assertSameKeys(params, metaGradient, "metaGradient");
      if (moments.size === 0) moments = zeroMoments(params);
      else expectMomentsMatch(moments, params);

      const t = step + 1;
      // Bias corrections in float64, as PyTorch computes them in Python floats.
      const stepSize = lr / (1 - beta1 ** t);
      const correction2Sqrt = Math.sqrt(1 - beta2 ** t);
      const updated = tf.tidy(() => {
        const nextParams: Record<string, tf.Tensor> = {};
        const m: Record<string, tf.Tensor> = {};
        const v: Record<string, tf.Tensor> = {};
        for (const [name, value] of Object.entries(params)) {
          const grad = metaGradient[name]!;
          const previous = moments.get(name)!;
          // One kernel when @concord/backend installed it, bit-identical to the ops below.
          const fused = fusedAdamUpdate(value, grad, previous.m, previous.v, { beta1, beta2, epsilon, stepSize, correction2Sqrt });
          if (fused) {
            [nextParams[name], m[name], v[name]] = fused as [tf.Tensor, tf.Tensor, tf.Tensor];
            continue;
          }
          m[name] = tf.add(tf.mul(previous.m, beta1), tf.mul(grad, 1 - beta1));
          v[name] = tf.add(tf.mul(previous.v, beta2), tf.mul(tf.square(grad), 1 - beta2));
          const denominator = tf.add(tf.div(tf.sqrt(v[name]), correction2Sqrt), epsilon);
          nextParams[name] = tf.sub(value, tf.mul(tf.div(m[name], denominator), stepSize));
        }
        return { nextParams, m, v };
      });
      disposeMoments();
      for (const name of Object.keys(params)) moments.set(name, { m: updated.m[name]!, v: updated.v[name]! });
      step = t;
      return updated.nextParams;
    },
    getState(): OuterOptimizerState {
      live();
      const slots: Record<string, tf.Tensor> = {};
      for (const [name, { m, v }] of moments) {
        slots[`m/${name}`] = tf.clone(m);
        slots[`v/${name}`] = tf.clone(v);
      }
      return { name: "adam", step, slots };
    },
    setState(state) {
      live();
      expectStateHeader(state, "adam");
      const restored = parseSlots(state.slots);
      disposeMoments();
      for (const [name, { m, v }] of restored) moments.set(name, { m: tf.clone(m), v: tf.clone(v) });
      step = state.step;
    },
    dispose() {
      if (!disposed) disposeMoments();
      disposed = true;
    },
  };
}

/**
 * [θ', m', v'] from the fused kernel ({@link ADAM_UPDATE_KERNEL}, registered by @concord/backend's
 * setup call) when it is registered for the current backend, else undefined (run the ops instead).
 */
function fusedAdamUpdate(param: tf.Tensor, grad: tf.Tensor, m: tf.Tensor, v: tf.Tensor, attrs: AdamUpdateAttrs): tf.Tensor[] | undefined {
  if (param.dtype !== "float32" || !tf.getKernel(ADAM_UPDATE_KERNEL, tf.getBackend())) return undefined;
  return tf.engine().runKernel(ADAM_UPDATE_KERNEL, { param, grad, m, v }, { ...attrs }) as unknown as tf.Tensor[];
}

function zeroMoments(params: Params): Map<string, Moments> {
  const moments = new Map<string, Moments>();
  for (const [name, value] of Object.entries(params)) {
    moments.set(name, { m: tf.zeros(value.shape), v: tf.zeros(value.shape) });
  }
  return moments;
}

/** The parameters must be the ones the moments were created for (same names and shapes). */
function expectMomentsMatch(moments: Map<string, Moments>, params: Params): void {
  const names = Object.keys(params);
  if (names.length !== moments.size || names.some((name) => !moments.has(name))) {
    throw new ConcordError(`expected parameters [${[...moments.keys()].join(", ")}] (those of the optimizer state), got [${names.join(", ")}]`, {
      field: "params",
    });
  }
  for (const name of names) {
    const expected = moments.get(name)!.m.shape;
    const actual = params[name]!.shape;
    if (expected.length !== actual.length || expected.some((size, i) => size !== actual[i])) {
      throw new ConcordError(`expected shape [${expected}] (that of the optimizer state), got [${actual}]`, { field: `params.${name}` });
    }
  }
}

/** Groups "m/<param>" and "v/<param>" slots by parameter, checking that they pair up. */
function parseSlots(slots: Readonly<Record<string, tf.Tensor>>): Map<string, Moments> {
  const partial = new Map<string, { m?: tf.Tensor; v?: tf.Tensor }>();
  for (const [key, tensor] of Object.entries(slots)) {
    const match = /^([mv])\/(.+)$/.exec(key);
    if (!match) throw new ConcordError(`expected slot names "m/<param>" or "v/<param>", got "${key}"`, { field: "state.slots" });
    if (!(tensor instanceof tf.Tensor) || tensor.isDisposed || tensor.dtype !== "float32") {
      throw new ConcordError("expected a live float32 tensor", { field: `state.slots.${key}` });
    }
    const [, kind, name] = match as unknown as [string, "m" | "v", string];
    partial.set(name, { ...partial.get(name), [kind]: tensor });
  }
  const moments = new Map<string, Moments>();
  for (const [name, { m, v }] of partial) {
    if (!m || !v) throw new ConcordError(`expected both m/${name} and v/${name}`, { field: "state.slots" });
    if (m.shape.length !== v.shape.length || m.shape.some((size, i) => size !== v.shape[i])) {
      throw new ConcordError(`m/${name} has shape [${m.shape}] but v/${name} has [${v.shape}]`, { field: "state.slots" });
    }
    moments.set(name, { m, v });
  }
  return moments;
}
