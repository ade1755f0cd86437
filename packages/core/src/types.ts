import type { Scalar, Tensor, Tensor1D, Tensor2D } from "@tensorflow/tfjs-core";
import type { Rng } from "./rng.js";

/** Named parameter tensors. Key order is the flattening order everywhere in Concord. */
export type Params = Readonly<Record<string, Tensor>>;

/** Inputs and targets of one support or query set. */
export interface Batch {
  readonly x: Tensor;
  readonly y: Tensor;
}

/** One task of a meta-batch: adapt on `support`, evaluate on `query`. */
export interface Task {
  readonly support: Batch;
  readonly query: Batch;
  /**
   * The task's group: an index into its sampler's `groups` (a sinusoid amplitude band, an Omniglot
   * alphabet). Group-aware weighting (TR-MAML) and per-group evaluation read it; absent when the
   * sampler declares no groups.
   */
  readonly group?: number;
}

/**
 * A task distribution. `sample` draws tasks using only `rng`, so a seed fixes the task stream.
 * Every task of one call has the same shapes (so a meta-batch can be stacked).
 */
export interface TaskSampler {
  readonly name: string;
  /**
   * The names of the task groups this sampler draws from, indexed by `Task.group`. When present,
   * every sampled task carries a `group` in [0, groups.length).
   */
  readonly groups?: readonly string[];
  sample(count: number, rng: Rng): Task[];
}

/**
 * A functional model: parameters are explicit and `forward` is pure.
 * `forwardBatched`, when present, runs a whole meta-batch at once: every parameter carries a
 * leading task axis [T, ...] and `x` is [T, K, ...]; it must equal stacking `forward` per task.
 */
export interface Model {
  readonly name: string;
  /**
   * The parameters that form the model's head (its last, task-specific layer), for ANIL-style
   * adaptation (`adapt: "head"`). Absent when the model has no such split.
   */
  readonly head?: readonly string[];
  /**
   * The shape of every parameter `init` returns, in its key order, known without allocating
   * anything. Loaders check an untrusted file's claims against it before any tensor exists
   * (@concord/deploy); a model without it is initialised once to learn its shapes.
   */
  readonly parameterShapes?: Readonly<Record<string, readonly number[]>>;
  init(rng: Rng): Params;
  forward(params: Params, x: Tensor): Tensor;
  forwardBatched?(params: Params, x: Tensor): Tensor;
  /**
   * What `execution: "auto"` picks for this model when both paths are possible. Default "batched"
   * (whenever forwardBatched exists). "per-task" for a model whose batched path is exact but not
   * faster and far larger in memory (convNet: the whole meta-batch's activations and im2col
   * patches on one tape); "batched" can still be asked for explicitly.
   */
  readonly preferredExecution?: "batched" | "per-task";
}

/**
 * A loss (mean over the examples of one task) with optional metrics. `taskLosses`, when present,
 * takes predictions and targets with a leading task axis and returns one loss per task [T].
 */
export interface Objective {
  readonly name: string;
  loss(pred: Tensor, y: Tensor): Scalar;
  taskLosses?(pred: Tensor, y: Tensor): Tensor1D;
  metrics?(pred: Tensor, y: Tensor): Record<string, Scalar>;
}

/**
 * A differentiable inner-loop optimizer: `step` must be built only from differentiable tf ops so
 * that second-order MAML can differentiate through it. It must work elementwise on parameters with
 * a leading task axis too (the batched path).
 */
export interface InnerOptimizer<State = unknown> {
  readonly name: string;
  /**
   * Called with the whole parameter map at the start of each inner loop (its own parameters
   * included, see `ownParams`); `step` then receives only the parameters being adapted.
   */
  init(params: Params): State;
  step(params: Params, grads: Params, state: State): { params: Params; state: State };
  /** Meta-learned parameters of the optimizer itself (Meta-SGD's per-element rates); absent for most. */
  readonly ownParams?: InnerOptimizerParams;
}

/**
 * Parameters an inner optimizer meta-learns along with the model (Meta-SGD's rates). They live in
 * the same parameter map as the model's, under names of their own, so the outer optimizer,
 * checkpoints, resume and evaluation treat them like any parameter. They are never adapted in the
 * inner loop and never passed to the model (see `modelParamsOf`).
 */
export interface InnerOptimizerParams {
  /** Creates them for freshly initialised model parameters (once per run); the caller owns the tensors. */
  init(modelParams: Params): Params;
  /** The model parameter that the optimizer parameter `name` belongs to ("lr/w" → "w"); undefined for any other name. */
  target(name: string): string | undefined;
}

/** The serialisable state of an outer optimizer: numbers plus named tensors. */
export interface OuterOptimizerState {
  readonly name: string;
  readonly step: number;
  readonly slots: Readonly<Record<string, Tensor>>;
}

/**
 * The meta-level optimizer. `apply` returns new parameters (θ ← rule(θ, d)); the caller owns and
 * disposes the old ones. State round-trips exactly through `getState` / `setState`.
 */
export interface OuterOptimizer {
  readonly name: string;
  apply(params: Params, metaGradient: Params): Params;
  getState(): OuterOptimizerState;
  setState(state: OuterOptimizerState): void;
  dispose(): void;
}

/** What a weighting scheme sees: rows of `updates` are g_i = θ − θ'_i, one per task. */
export interface WeightingInput {
  readonly updates: Tensor2D;
  /** Each task's query loss after adaptation, L_i. */
  readonly losses: Tensor1D;
  readonly iteration: number;
  /** Each task's group id (`Task.group`), when the sampler declares groups. */
  readonly groups?: readonly number[];
}

/**
 * The saved state of a stateful weighting scheme (TR-MAML's group distribution): plain numbers,
 * so it round-trips exactly through a checkpoint's JSON.
 */
export interface WeightingState {
  readonly name: string;
  readonly values: Readonly<Record<string, readonly number[]>>;
}

export interface WeightingResult {
  readonly weights: Tensor1D;
  /** True when the scheme could not compute its weights and used uniform ones instead. */
  readonly fellBack?: boolean;
}

/** Turns per-task update vectors into task weights (treated as constants for differentiation). */
export interface WeightingScheme {
  readonly name: string;
  /**
   * Schemes that weigh task groups (TR-MAML): the number of groups they expect. A runner refuses a
   * task sampler that declares no groups, or another number of them, before training starts.
   */
  readonly taskGroups?: number;
  weights(input: WeightingInput): WeightingResult;
  /** Stateful schemes only: the state to save in a checkpoint (a copy). */
  getState?(): WeightingState;
  /** Stateful schemes only: restores a state from `getState`, so a resumed run continues bit for bit. */
  setState?(state: WeightingState): void;
}

/** Everything a meta-algorithm needs for one meta-iteration. */
export interface MetaStepContext {
  readonly params: Params;
  readonly tasks: readonly Task[];
  readonly model: Model;
  readonly objective: Objective;
  readonly innerOptimizer: InnerOptimizer;
  readonly weighting: WeightingScheme;
  readonly iteration: number;
}

/** Plain-number diagnostics of one meta-iteration. */
export interface MetaStepMetrics {
  readonly supportLossBefore: number;
  readonly supportLossAfter: number;
  readonly queryLossBefore: number;
  readonly queryLossAfter: number;
  readonly weights: readonly number[];
  readonly fellBack: boolean;
  /** Mean cosine similarity of g_i and g_j over pairs i < j (NaN for one task). */
  readonly meanPairwiseCosine: number;
  /** (Σ_i |w_i|)² / Σ_i w_i²: N for uniform weights, 1 when one task carries all the weight. */
  readonly effectiveTasks: number;
  /**
   * Cosine between the weighted direction Σ_i w_i G_i and the uniform one (1/N) Σ_i G_i: exactly 1
   * for uniform weights; NaN when either direction is zero.
   */
  readonly weightedCosine: number;
}

export interface MetaStepResult {
  /** d: the outer optimizer applies θ ← θ − β·d. The caller disposes it. */
  readonly metaGradient: Params;
  readonly metrics: MetaStepMetrics;
}

export interface MetaAlgorithm {
  readonly name: string;
  /** The parameters its inner loop adapts (evaluation adapts the same ones). Absent: all. */
  readonly adapt?: AdaptSelection;
  step(context: MetaStepContext): MetaStepResult;
}

/**
 * Which parameters an inner loop adapts: "all" (MAML), "head" (ANIL: `Model.head`), or named
 * parameters. The inner optimizer's own parameters (ownParams) are never adapted.
 */
export type AdaptSelection = "all" | "head" | readonly string[];

/** Re-exported for plug-in authors. */
export type { Rng } from "./rng.js";
export type { Scalar, Tensor, Tensor1D, Tensor2D };
