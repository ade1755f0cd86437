import * as tf from "@tensorflow/tfjs-core";
import { activeBackendChoice } from "@concord/backend";
import {
  type AdaptSelection,
  type Batch,
  ConcordError,
  createRng,
  expect,
  expectInteger,
  type InnerOptimizer,
  type Model,
  modelParamsOf,
  type Objective,
  type Params,
  type Task,
  type TaskSampler,
  tileParams,
} from "@concord/core";
import { type AdaptationState, type AdaptOptions, adaptedNames, adaptStep } from "./adapt.js";

/** How evaluation runs the model: "auto" batches a chunk of tasks when model and objective allow it and the model does not prefer per-task. */
export type EvaluationExecution = "auto" | "batched" | "per-task";

export interface EvaluationOptions {
  readonly model: Model;
  readonly objective: Objective;
  readonly innerOptimizer: InnerOptimizer;
  readonly sampler: TaskSampler;
  /** Held-out tasks. Default 600 (as in the MAML paper); at least 2 (a CI needs a spread). */
  readonly taskCount?: number;
  /** Report steps 0..maxInnerSteps (step 0 is the unadapted model). */
  readonly maxInnerSteps: number;
  /** Fixes the held-out task set, so every arm of a comparison is scored on the same tasks. */
  readonly seed: number;
  /** Tasks evaluated at once (bounds memory). Default 100. */
  readonly chunkSize?: number;
  /** Default "auto". */
  readonly execution?: EvaluationExecution;
  /** Which parameters the inner loop adapts (the trained algorithm's `adapt`). Default "all". */
  readonly adapt?: AdaptSelection;
  /** Called after each chunk with the number of tasks done so far. */
  readonly onProgress?: (done: number, total: number) => void;
}

/** Mean over tasks at one inner step, with ci95 = 1.96·s/√n (s: sample standard deviation, n − 1). */
export interface StepStatistic {
  readonly step: number;
  readonly mean: number;
  readonly ci95: number;
}

export interface EvaluationResult {
  readonly taskCount: number;
  /** One entry per inner step 0..maxInnerSteps: the query loss after that many steps. */
  readonly loss: StepStatistic[];
  /** Query accuracy per step, when the objective's metrics report `accuracy`. */
  readonly accuracy?: StepStatistic[];
  /** [step][task] query losses. */
  readonly perTaskLoss: number[][];
  /** [step][task] query accuracies, when `accuracy` is present. */
  readonly perTaskAccuracy?: number[][];
  /** Each task's group (`Task.group`), when the sampler declares groups. */
  readonly perTaskGroup?: number[];
  /** The sampler's group names (`TaskSampler.groups`), indexed by `perTaskGroup`. */
  readonly groupNames?: string[];
  /** The engine the numbers were computed on: cpu, wasm, webgl or native (comma-separated when pooled over engines). */
  readonly backend: string;
}

/**
 * Scores `params` on a fixed held-out task set: for each of `taskCount` tasks drawn from
 * `createRng(seed)` (in chunks of `chunkSize`, each chunk continuing the same stream), adapt on the
 * support set one inner step at a time with `adaptStep()` — the step `adapt()` repeats, so the
 * parameters after s steps are `adapt()`'s with `innerSteps: s` — and record the query loss (and
 * accuracy, when the objective's metrics report it) at every step s = 0..maxInnerSteps.
 * Reports per step the mean over tasks and the 95% confidence interval 1.96·s/√n, where s is the
 * sample standard deviation (n − 1 denominator) and n the number of tasks.
 */
export function evaluateAdaptation(params: Params, options: EvaluationOptions): EvaluationResult {
  validateOptions(params, options);
  adaptedNames(params, options); // a bad adapt selection fails before any task is drawn
  const taskCount = options.taskCount ?? 600;
  const chunkSize = options.chunkSize ?? 100;
  const batched = resolveExecution(options);
  const rng = createRng(options.seed);
  const steps = options.maxInnerSteps + 1;
  const perTaskLoss: number[][] = Array.from({ length: steps }, () => []);
  let perTaskAccuracy: number[][] | undefined;
  const groupNames = options.sampler.groups ? [...options.sampler.groups] : undefined;
  const perTaskGroup: number[] | undefined = groupNames ? [] : undefined;

  for (let done = 0; done < taskCount; ) {
    const count = Math.min(chunkSize, taskCount - done);
    const tasks = options.sampler.sample(count, rng);
    try {
      expect(
        Array.isArray(tasks) && tasks.length === count,
        "sampler",
        `expected ${count} tasks from sampler '${options.sampler.name}', got ${Array.isArray(tasks) ? tasks.length : typeof tasks}`,
      );
      if (perTaskGroup) perTaskGroup.push(...tasks.map((task, index) => checkGroup(task.group, groupNames!.length, done + index, options.sampler.name)));
      const chunk = batched ? evaluateChunkBatched(params, tasks, options) : evaluateChunkPerTask(params, tasks, options);
      chunk.loss.forEach((values, step) => perTaskLoss[step]!.push(...values));
      if (chunk.accuracy) {
        perTaskAccuracy ??= Array.from({ length: steps }, () => []);
        chunk.accuracy.forEach((values, step) => perTaskAccuracy![step]!.push(...values));
      }
    } finally {
      disposeTasks(tasks);
    }
    done += count;
    options.onProgress?.(done, taskCount);
  }
  const groups = perTaskGroup ? { perTaskGroup, groupNames: groupNames! } : undefined;
  return buildResult(perTaskLoss, perTaskAccuracy, activeBackendChoice(), groups);
}

/** A task's group from a sampler that declares `groupCount` groups: an integer in [0, groupCount). */
function checkGroup(group: unknown, groupCount: number, taskIndex: number, samplerName: string): number {
  if (typeof group !== "number" || !Number.isInteger(group) || group < 0 || group >= groupCount) {
    throw new ConcordError(
      `sampler '${samplerName}' declares ${groupCount} groups, but its task ${taskIndex} has group ${JSON.stringify(group)}; expected an integer in [0, ${groupCount - 1}]`,
      { field: "sampler.groups" },
    );
  }
  return group;
}

/**
 * Pools the per-task results of several evaluations (e.g. one per seed) into one:
 * n = Σ taskCount, statistics recomputed over all pooled tasks.
 */
export function combineEvaluations(results: readonly EvaluationResult[]): EvaluationResult {
  expect(Array.isArray(results) && results.length > 0, "results", "expected at least one evaluation result");
  const steps = results[0]!.perTaskLoss.length;
  results.forEach((result, index) => {
    expect(result.perTaskLoss.length === steps, `results[${index}]`, `expected ${steps - 1} inner steps like results[0], got ${result.perTaskLoss.length - 1}`);
  });
  const pool = (pick: (result: EvaluationResult) => number[][] | undefined): number[][] | undefined => {
    if (!results.every((result) => pick(result) !== undefined)) return undefined;
    return Array.from({ length: steps }, (_, step) => results.flatMap((result) => pick(result)![step]!));
  };
  const backends = [...new Set(results.map((result) => result.backend))];
  const names = results[0]!.groupNames;
  const sameGroups = names !== undefined && results.every((result) => result.perTaskGroup && JSON.stringify(result.groupNames) === JSON.stringify(names));
  const groups = sameGroups ? { perTaskGroup: results.flatMap((result) => result.perTaskGroup!), groupNames: names } : undefined;
  return buildResult(
    pool((result) => result.perTaskLoss)!,
    pool((result) => result.perTaskAccuracy),
    backends.join(","),
    groups,
  );
}

/** Mean and ci95 = 1.96·s/√n with the sample standard deviation s (n − 1 denominator), in float64. */
export function meanWithCi95(values: readonly number[]): { mean: number; ci95: number } {
  const n = values.length;
  if (n === 0) return { mean: Number.NaN, ci95: Number.NaN };
  let sum = 0;
  for (const value of values) sum += value;
  const mean = sum / n;
  if (n === 1) return { mean, ci95: Number.NaN };
  let squares = 0;
  for (const value of values) squares += (value - mean) ** 2;
  return { mean, ci95: (1.96 * Math.sqrt(squares / (n - 1))) / Math.sqrt(n) };
}

function buildResult(
  perTaskLoss: number[][],
  perTaskAccuracy: number[][] | undefined,
  backend: string,
  groups?: { perTaskGroup: number[]; groupNames: string[] },
): EvaluationResult {
  const statistics = (perTask: number[][]): StepStatistic[] => perTask.map((values, step) => ({ step, ...meanWithCi95(values) }));
  return {
    taskCount: perTaskLoss[0]?.length ?? 0,
    loss: statistics(perTaskLoss),
    ...(perTaskAccuracy ? { accuracy: statistics(perTaskAccuracy), perTaskAccuracy } : {}),
    perTaskLoss,
    ...(groups ?? {}),
    backend,
  };
}

interface ChunkValues {
  /** [step][task] */
  readonly loss: number[][];
  readonly accuracy?: number[][];
}

/** All tasks of the chunk at once: parameters tiled on a leading task axis, one tape per step. */
function evaluateChunkBatched(params: Params, tasks: readonly Task[], options: EvaluationOptions): ChunkValues {
  const { model, objective, innerOptimizer } = options;
  const forwardBatched = model.forwardBatched!.bind(model);
  const taskLosses = objective.taskLosses!.bind(objective);
  // One outer scope per chunk: it holds the (S + 1) parameter sets; each step's tape is freed by its own tidy.
  let values: ChunkValues | undefined;
  tf.tidy(() => {
    const support = stackBatches(tasks.map((task) => task.support));
    const query = stackBatches(tasks.map((task) => task.query));
    const tiled = tileParams(params, tasks.length);
    let current: AdaptationState = { params: tiled, state: innerOptimizer.init(tiled) };
    const losses: tf.Tensor1D[] = [];
    const accuracies: tf.Tensor1D[] = [];
    let measureAccuracy = objective.metrics !== undefined;
    for (let step = 0; step <= options.maxInnerSteps; step++) {
      const scored = tf.tidy(() => {
        const pred = forwardBatched(modelParamsOf(current.params, innerOptimizer), query.x);
        const loss = taskLosses(pred, query.y);
        const accuracy = measureAccuracy ? accuracyPerTask(pred, query.y, objective) : undefined;
        return accuracy ? [loss, accuracy] : [loss];
      });
      losses.push(checkLosses(scored[0]!, tasks.length));
      if (scored[1]) accuracies.push(scored[1]);
      else measureAccuracy = false;
      if (step < options.maxInnerSteps)
        current = innerStep(current, support, { model, objective, innerOptimizer, execution: "batched", ...adaptOption(options) });
    }
    values = readChunk(losses, measureAccuracy ? accuracies : undefined);
  });
  return values!;
}

/** One task at a time with `forward` and `loss` (models without a batched path). */
function evaluateChunkPerTask(params: Params, tasks: readonly Task[], options: EvaluationOptions): ChunkValues {
  const { model, objective, innerOptimizer } = options;
  const steps = options.maxInnerSteps + 1;
  const loss: number[][] = Array.from({ length: steps }, () => []);
  let accuracy: number[][] | undefined = objective.metrics ? Array.from({ length: steps }, () => []) : undefined;
  for (const task of tasks) {
    tf.tidy(() => {
      let current: AdaptationState = { params, state: innerOptimizer.init(params) };
      const losses: tf.Scalar[] = [];
      const accuracies: tf.Scalar[] = [];
      for (let step = 0; step < steps; step++) {
        const scored = tf.tidy(() => {
          const pred = model.forward(modelParamsOf(current.params, innerOptimizer), task.query.x);
          const value = objective.loss(pred, task.query.y);
          const accuracyValue = accuracy ? objective.metrics!(pred, task.query.y).accuracy : undefined;
          return accuracyValue ? [value, accuracyValue] : [value];
        });
        losses.push(scored[0]!);
        if (scored[1]) accuracies.push(scored[1]);
        else accuracy = undefined;
        if (step < steps - 1) current = innerStep(current, task.support, { model, objective, innerOptimizer, ...adaptOption(options) });
      }
      const values = tf.stack(losses).dataSync();
      values.forEach((value, step) => loss[step]!.push(value));
      if (accuracy)
        tf.stack(accuracies)
          .dataSync()
          .forEach((value, step) => accuracy![step]!.push(value));
    });
  }
  return accuracy ? { loss, accuracy } : { loss };
}

function adaptOption(options: EvaluationOptions): { adapt?: AdaptSelection } {
  return options.adapt !== undefined ? { adapt: options.adapt } : {};
}

/** `adaptStep()` in its own tidy: only the new parameters and state survive (in the caller's scope). */
function innerStep(current: AdaptationState, support: Batch, options: Omit<AdaptOptions, "innerSteps">): AdaptationState {
  return tf.tidy(() => {
    const next = adaptStep(current, support, options);
    return { params: next.params, state: next.state } as unknown as tf.TensorContainer;
  }) as unknown as AdaptationState;
}

/** Accuracy of each task of a batched prediction [T, K, ...] from the objective's per-task metrics. */
function accuracyPerTask(pred: tf.Tensor, y: tf.Tensor, objective: Objective): tf.Tensor1D | undefined {
  const tasks = pred.shape[0]!;
  const values: tf.Scalar[] = [];
  for (let t = 0; t < tasks; t++) {
    const metrics = objective.metrics!(sliceTask(pred, t), sliceTask(y, t));
    if (!metrics.accuracy) return undefined;
    values.push(metrics.accuracy);
  }
  return tf.stack(values) as tf.Tensor1D;
}

function checkLosses(losses: tf.Tensor, tasks: number): tf.Tensor1D {
  if (losses.rank !== 1 || losses.shape[0] !== tasks) {
    throw new ConcordError(`expected taskLosses to return shape [${tasks}], got [${losses.shape.join(", ")}]`, { field: "objective.taskLosses" });
  }
  return losses as tf.Tensor1D;
}

function readChunk(losses: tf.Tensor1D[], accuracies: tf.Tensor1D[] | undefined): ChunkValues {
  const loss = tf.stack(losses).arraySync() as number[][];
  return accuracies && accuracies.length === losses.length ? { loss, accuracy: tf.stack(accuracies).arraySync() as number[][] } : { loss };
}

function stackBatches(batches: readonly Batch[]): Batch {
  return { x: tf.stack(batches.map((batch) => batch.x)), y: tf.stack(batches.map((batch) => batch.y)) };
}

function sliceTask(stacked: tf.Tensor, index: number): tf.Tensor {
  return tf.squeeze(tf.slice(stacked, [index], [1]), [0]);
}

function disposeTasks(tasks: readonly Task[] | undefined): void {
  if (!Array.isArray(tasks)) return;
  for (const task of tasks) tf.dispose([task.support.x, task.support.y, task.query.x, task.query.y]);
}

function resolveExecution(options: EvaluationOptions): boolean {
  const execution = options.execution ?? "auto";
  expect(
    execution === "auto" || execution === "batched" || execution === "per-task",
    "execution",
    `expected "auto", "batched" or "per-task", got ${JSON.stringify(execution)}`,
  );
  const canBatch = typeof options.model.forwardBatched === "function" && typeof options.objective.taskLosses === "function";
  if (execution === "batched" && !canBatch) {
    throw new ConcordError(
      `model '${options.model.name}' with objective '${options.objective.name}' does not support batched execution (needs model.forwardBatched and objective.taskLosses)`,
      { field: "execution" },
    );
  }
  return execution === "batched" || (execution === "auto" && canBatch && options.model.preferredExecution !== "per-task");
}

function validateOptions(params: Params, options: EvaluationOptions): void {
  expect(options !== null && typeof options === "object", "options", "expected evaluation options");
  expect(
    params !== null && typeof params === "object" && Object.values(params).every((value) => value instanceof tf.Tensor),
    "params",
    "expected a map of named tensors",
  );
  expect(typeof options.model?.forward === "function", "model", "expected a Model with forward()");
  expect(typeof options.objective?.loss === "function", "objective", "expected an Objective with loss()");
  expect(
    typeof options.innerOptimizer?.step === "function" && typeof options.innerOptimizer.init === "function",
    "innerOptimizer",
    "expected an InnerOptimizer with init() and step()",
  );
  expect(typeof options.sampler?.sample === "function", "sampler", "expected a TaskSampler with sample()");
  expectInteger(options.taskCount ?? 600, "taskCount", 2);
  expectInteger(options.maxInnerSteps, "maxInnerSteps", 0);
  expectInteger(options.seed, "seed");
  expectInteger(options.chunkSize ?? 100, "chunkSize", 1);
}
