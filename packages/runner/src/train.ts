import * as tf from "@tensorflow/tfjs-core";
import {
  ConcordError,
  createRng,
  disposeParams,
  expectInteger,
  type InnerOptimizer,
  type MetaAlgorithm,
  type MetaStepMetrics,
  type Model,
  type Objective,
  type OuterOptimizer,
  type Params,
  type RngState,
  type Task,
  type TaskSampler,
  type WeightingScheme,
  withInnerOptimizerParams,
} from "@concord/core";

/** Where a run stands: enough to continue it exactly (checkpoints store this). */
export interface TrainState {
  /** Iterations completed so far. */
  readonly iteration: number;
  readonly params: Params;
  /** State of the task-stream generator (the only randomness used after initialisation). */
  readonly taskRngState: RngState;
}

export interface IterationEvent {
  /** 1-based number of the iteration just completed. */
  readonly iteration: number;
  readonly metrics: MetaStepMetrics;
  /** The state after this iteration; valid only during the callback (tensors are owned by train()). */
  readonly state: TrainState;
}

export interface TrainOptions {
  readonly sampler: TaskSampler;
  readonly model: Model;
  readonly objective: Objective;
  readonly algorithm: MetaAlgorithm;
  readonly weighting: WeightingScheme;
  readonly innerOptimizer: InnerOptimizer;
  readonly outerOptimizer: OuterOptimizer;
  readonly metaBatchSize: number;
  /** Total iterations of the run (a resumed run continues up to this number). */
  readonly iterations: number;
  readonly seed: number;
  /** Continue from a saved state instead of initialising (the outer optimizer's state is restored by the caller). */
  readonly resumeFrom?: TrainState;
  /** Called after every iteration; return "stop" to end the run early. */
  // biome-ignore lint/suspicious/noConfusingVoidType: callbacks that return nothing are the common case
  readonly onIteration?: (event: IterationEvent) => void | "stop";
}

export interface TrainResult {
  /** Final parameters; the caller owns them. */
  readonly params: Params;
  readonly iteration: number;
  readonly taskRngState: RngState;
}

/**
 * The meta-training loop. One seed fixes everything: it is split into an initialisation stream and
 * a task stream, so every arm of a comparison with the same seed starts from the same θ and sees the
 * same tasks, whatever its algorithm or weighting.
 */
export function train(options: TrainOptions): TrainResult {
  expectInteger(options.metaBatchSize, "metaBatchSize", 1);
  expectInteger(options.iterations, "iterations", 0);
  expectInteger(options.seed, "seed");
  const { initRng, taskRng } = splitSeed(options.seed);
  // A fresh run starts from the model's parameters plus the inner optimizer's own (Meta-SGD's rates).
  let params = options.resumeFrom ? options.resumeFrom.params : withInnerOptimizerParams(options.model.init(initRng), options.innerOptimizer);
  let iteration = options.resumeFrom?.iteration ?? 0;
  if (options.resumeFrom) taskRng.setState(options.resumeFrom.taskRngState);

  while (iteration < options.iterations) {
    const tasks = options.sampler.sample(options.metaBatchSize, taskRng);
    let metrics: MetaStepMetrics;
    let next: Params;
    try {
      const step = options.algorithm.step({
        params,
        tasks,
        model: options.model,
        objective: options.objective,
        innerOptimizer: options.innerOptimizer,
        weighting: options.weighting,
        iteration,
      });
      metrics = step.metrics;
      try {
        assertFinite(iteration + 1, metrics, step.metaGradient);
        next = options.outerOptimizer.apply(params, step.metaGradient);
      } finally {
        disposeParams(step.metaGradient);
      }
    } finally {
      disposeTasks(tasks);
    }
    assertFinite(iteration + 1, undefined, next);
    if (next !== params && params !== options.resumeFrom?.params) disposeParams(params);
    params = next;
    iteration += 1;
    const verdict = options.onIteration?.({ iteration, metrics, state: { iteration, params, taskRngState: taskRng.getState() } });
    if (verdict === "stop") break;
  }
  return { params, iteration, taskRngState: taskRng.getState() };
}

/** The fixed split of one seed into the streams a run uses. */
export function splitSeed(seed: number) {
  const root = createRng(seed);
  const initRng = root.fork();
  const taskRng = root.fork();
  return { initRng, taskRng, evalRng: root.fork() };
}

function disposeTasks(tasks: readonly Task[]): void {
  for (const task of tasks) tf.dispose([task.support.x, task.support.y, task.query.x, task.query.y]);
}

/** The divergence guard: a NaN or infinite loss, gradient or weight stops the run, naming the iteration. */
function assertFinite(iteration: number, metrics: MetaStepMetrics | undefined, tensors: Params): void {
  const bad: string[] = [];
  if (metrics) {
    if (!Number.isFinite(metrics.queryLossAfter)) bad.push(`query loss ${metrics.queryLossAfter}`);
    if (!metrics.weights.every(Number.isFinite)) bad.push("task weights");
  }
  const total = tf.tidy(() => tf.addN(Object.values(tensors).map((value) => tf.sum(tf.abs(value)))).dataSync()[0]!);
  if (!Number.isFinite(total)) bad.push(metrics ? "meta-gradient" : "parameters");
  if (bad.length > 0) {
    throw new ConcordError(`training diverged at iteration ${iteration}: non-finite ${bad.join(", ")}`, { field: "iteration" });
  }
}
