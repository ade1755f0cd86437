// An independent float64 implementation of an MLP, its losses, hand-written backprop and the MAML /
// Reptile meta-objectives. Tests compare Concord's tf computations against it (and its finite differences).

export type Activation = "relu" | "tanh";
export type LossKind = "mse" | "cross-entropy";

export interface ReferenceNet {
  readonly sizes: readonly number[];
  readonly activation: Activation;
  readonly loss: LossKind;
}

/** Flat parameter layout: layer by layer, weight [in, out] row-major then bias [out] (Concord's key order). */
export function parameterCount(net: ReferenceNet): number {
  let total = 0;
  for (let l = 0; l + 1 < net.sizes.length; l++) total += net.sizes[l]! * net.sizes[l + 1]! + net.sizes[l + 1]!;
  return total;
}

interface Forward {
  inputs: number[][][]; // per layer: [K][in] pre-layer activations
  preActivations: number[][][]; // per layer: [K][out]
  output: number[][];
}

function forward(net: ReferenceNet, theta: Float64Array, x: number[][]): Forward {
  const inputs: number[][][] = [];
  const preActivations: number[][][] = [];
  let h = x;
  let offset = 0;
  const layers = net.sizes.length - 1;
  for (let l = 0; l < layers; l++) {
    const nIn = net.sizes[l]!;
    const nOut = net.sizes[l + 1]!;
    const wOffset = offset;
    const bOffset = offset + nIn * nOut;
    offset = bOffset + nOut;
    inputs.push(h);
    const z = h.map((row) => {
      const out: number[] = [];
      for (let j = 0; j < nOut; j++) {
        let s = theta[bOffset + j]!;
        for (let i = 0; i < nIn; i++) s += row[i]! * theta[wOffset + i * nOut + j]!;
        out.push(s);
      }
      return out;
    });
    preActivations.push(z);
    h = l === layers - 1 ? z : z.map((row) => row.map((v) => activate(net.activation, v)));
  }
  return { inputs, preActivations, output: h };
}

function activate(kind: Activation, v: number): number {
  return kind === "relu" ? Math.max(0, v) : Math.tanh(v);
}

function activationSlope(kind: Activation, v: number): number {
  return kind === "relu" ? (v > 0 ? 1 : 0) : 1 - Math.tanh(v) ** 2;
}

/** Loss and dLoss/dOutput. MSE: mean over all entries. Cross-entropy: mean over examples, y holds class indices. */
function lossAndSlope(kind: LossKind, output: number[][], y: number[][]): { loss: number; slope: number[][] } {
  const k = output.length;
  if (kind === "mse") {
    const count = k * output[0]!.length;
    let loss = 0;
    const slope = output.map((row, r) =>
      row.map((v, c) => {
        const d = v - y[r]![c]!;
        loss += d * d;
        return (2 * d) / count;
      }),
    );
    return { loss: loss / count, slope };
  }
  let loss = 0;
  const slope = output.map((logits, r) => {
    const label = y[r]![0]!;
    const max = Math.max(...logits);
    const exps = logits.map((v) => Math.exp(v - max));
    const total = exps.reduce((a, b) => a + b, 0);
    loss += Math.log(total) + max - logits[label]!;
    return exps.map((e, c) => (e / total - (c === label ? 1 : 0)) / k);
  });
  return { loss: loss / k, slope };
}

export function loss(net: ReferenceNet, theta: Float64Array, x: number[][], y: number[][]): number {
  return lossAndSlope(net.loss, forward(net, theta, x).output, y).loss;
}

/** ∇_θ loss by hand-written backpropagation. */
export function gradient(net: ReferenceNet, theta: Float64Array, x: number[][], y: number[][]): Float64Array {
  const pass = forward(net, theta, x);
  const grad = new Float64Array(theta.length);
  let delta = lossAndSlope(net.loss, pass.output, y).slope; // d loss / d z of the last layer
  const layers = net.sizes.length - 1;
  const offsets: number[] = [];
  let offset = 0;
  for (let l = 0; l < layers; l++) {
    offsets.push(offset);
    offset += net.sizes[l]! * net.sizes[l + 1]! + net.sizes[l + 1]!;
  }
  for (let l = layers - 1; l >= 0; l--) {
    const nIn = net.sizes[l]!;
    const nOut = net.sizes[l + 1]!;
    const wOffset = offsets[l]!;
    const bOffset = wOffset + nIn * nOut;
    const input = pass.inputs[l]!;
    for (let r = 0; r < input.length; r++) {
      for (let j = 0; j < nOut; j++) {
        grad[bOffset + j]! += delta[r]![j]!;
        for (let i = 0; i < nIn; i++) grad[wOffset + i * nOut + j]! += input[r]![i]! * delta[r]![j]!;
      }
    }
    if (l > 0) {
      const below = pass.preActivations[l - 1]!;
      delta = input.map((row, r) =>
        row.map((_, i) => {
          let s = 0;
          for (let j = 0; j < nOut; j++) s += delta[r]![j]! * theta[wOffset + i * nOut + j]!;
          return s * activationSlope(net.activation, below[r]![i]!);
        }),
      );
    }
  }
  return grad;
}

export interface ReferenceTask {
  support: { x: number[][]; y: number[][] };
  query: { x: number[][]; y: number[][] };
}

/** θ' after `steps` plain SGD steps of size `alpha` on the support loss. */
export function adaptReference(net: ReferenceNet, theta: Float64Array, task: ReferenceTask, alpha: number, steps: number): Float64Array {
  let current = Float64Array.from(theta);
  for (let s = 0; s < steps; s++) {
    const g = gradient(net, current, task.support.x, task.support.y);
    current = current.map((v, i) => v - alpha * g[i]!);
  }
  return current;
}

/** The weighted MAML meta-objective Σ_i w_i L_query_i(θ'_i(θ)); its gradient is the second-order meta-gradient. */
export function mamlObjective(net: ReferenceNet, theta: Float64Array, tasks: ReferenceTask[], weights: number[], alpha: number, steps: number): number {
  return tasks.reduce((total, task, i) => {
    const adapted = adaptReference(net, theta, task, alpha, steps);
    return total + weights[i]! * loss(net, adapted, task.query.x, task.query.y);
  }, 0);
}

/** First-order MAML: Σ_i w_i ∇_θ' L_query_i evaluated at θ'_i. */
export function firstOrderMetaGradient(
  net: ReferenceNet,
  theta: Float64Array,
  tasks: ReferenceTask[],
  weights: number[],
  alpha: number,
  steps: number,
): Float64Array {
  const total = new Float64Array(theta.length);
  tasks.forEach((task, i) => {
    const adapted = adaptReference(net, theta, task, alpha, steps);
    gradient(net, adapted, task.query.x, task.query.y).forEach((g, p) => {
      total[p]! += weights[i]! * g;
    });
  });
  return total;
}

/** Reptile direction Σ_i w_i (θ − θ'_i). */
export function reptileDirection(
  net: ReferenceNet,
  theta: Float64Array,
  tasks: ReferenceTask[],
  weights: number[],
  alpha: number,
  steps: number,
): Float64Array {
  const total = new Float64Array(theta.length);
  tasks.forEach((task, i) => {
    const adapted = adaptReference(net, theta, task, alpha, steps);
    adapted.forEach((v, p) => {
      total[p]! += weights[i]! * (theta[p]! - v);
    });
  });
  return total;
}

// Meta-SGD and ANIL: an inner step θ_p ← θ_p − a_p ∇_p L_support(θ) with one rate a_p per element,
// applied only where mask[p] = 1 (ANIL adapts the head; Meta-SGD learns a).

/** 1 for the elements of the output layer (weight and bias), 0 elsewhere: ANIL's head in the flat layout. */
export function headMask(net: ReferenceNet): Uint8Array {
  const mask = new Uint8Array(parameterCount(net));
  const layers = net.sizes.length - 1;
  const last = net.sizes[layers - 1]! * net.sizes[layers]! + net.sizes[layers]!;
  mask.fill(1, mask.length - last);
  return mask;
}

/** θ' after `steps` steps θ_p ← θ_p − rates[p]·∇_p L_support for every p with mask[p] = 1 (no mask: all). */
export function adaptElementwise(
  net: ReferenceNet,
  theta: Float64Array,
  task: ReferenceTask,
  rates: Float64Array,
  steps: number,
  mask?: Uint8Array,
): Float64Array {
  let current = Float64Array.from(theta);
  for (let s = 0; s < steps; s++) {
    const g = gradient(net, current, task.support.x, task.support.y);
    current = current.map((v, p) => (mask && !mask[p] ? v : v - rates[p]! * g[p]!));
  }
  return current;
}

/**
 * Σ_i w_i L_query_i(θ'_i) as a function of θ and the rates together (`thetaAndRates` = [θ, a], each
 * of length P): its gradient is the second-order Meta-SGD meta-gradient over both.
 */
export function elementwiseObjective(
  net: ReferenceNet,
  thetaAndRates: Float64Array,
  tasks: ReferenceTask[],
  weights: number[],
  steps: number,
  mask?: Uint8Array,
): number {
  const count = parameterCount(net);
  const theta = thetaAndRates.subarray(0, count);
  const rates = thetaAndRates.subarray(count, 2 * count);
  return tasks.reduce(
    (total, task, i) => total + weights[i]! * loss(net, adaptElementwise(net, theta, task, rates, steps, mask), task.query.x, task.query.y),
    0,
  );
}

/** First order: Σ_i w_i ∇_θ' L_query_i at θ'_i (θ' held constant, so the rates get no gradient). */
export function elementwiseFirstOrder(
  net: ReferenceNet,
  theta: Float64Array,
  rates: Float64Array,
  tasks: ReferenceTask[],
  weights: number[],
  steps: number,
  mask?: Uint8Array,
): Float64Array {
  const total = new Float64Array(theta.length);
  tasks.forEach((task, i) => {
    gradient(net, adaptElementwise(net, theta, task, rates, steps, mask), task.query.x, task.query.y).forEach((g, p) => {
      total[p]! += weights[i]! * g;
    });
  });
  return total;
}

/** The updates g_i = θ − θ'_i, one row per task. */
export function elementwiseUpdates(
  net: ReferenceNet,
  theta: Float64Array,
  rates: Float64Array,
  tasks: ReferenceTask[],
  steps: number,
  mask?: Uint8Array,
): Float64Array[] {
  return tasks.map((task) => {
    const adapted = adaptElementwise(net, theta, task, rates, steps, mask);
    return theta.map((v, p) => v - adapted[p]!);
  });
}

/** Gradient agreement, computed independently: w_i = Σ_j g_iᵀg_j / Σ_k |Σ_j g_kᵀg_j|. */
export function agreementWeights(updates: readonly Float64Array[]): number[] {
  const dot = (a: Float64Array, b: Float64Array) => a.reduce((sum, v, p) => sum + v * b[p]!, 0);
  const scores = updates.map((gi) => updates.reduce((sum, gj) => sum + dot(gi, gj), 0));
  const norm = scores.reduce((sum, s) => sum + Math.abs(s), 0);
  return scores.map((s) => s / norm);
}
