import * as tf from "@tensorflow/tfjs-core";
import { createRng, disposeParams, type InnerOptimizer, type Model, type Objective, type Params, type TaskSampler } from "@concord/core";
import { adapt } from "@concord/algorithms";

export interface FewShotEvaluationOptions {
  readonly model: Model;
  readonly objective: Objective;
  readonly innerOptimizer: InnerOptimizer;
  readonly sampler: TaskSampler;
  readonly taskCount: number;
  /** Accuracy is reported after 0, 1, …, steps inner steps. */
  readonly steps: number;
  /** Fixes the held-out tasks: the same for every arm. */
  readonly seed: number;
  readonly onTask?: (done: number) => void;
}

export interface StepAccuracy {
  readonly step: number;
  readonly mean: number;
  /** 1.96·σ/√n, σ the sample standard deviation over tasks. */
  readonly ci95: number;
}

/**
 * Meta-test: for each of `taskCount` held-out tasks, adapt from θ on the support set with the
 * inner optimizer and record the query accuracy after every step (MAML's protocol; the query set is
 * normalised with its own batch statistics, as in training).
 */
export function evaluateFewShot(params: Params, options: FewShotEvaluationOptions): StepAccuracy[] {
  const rng = createRng(options.seed);
  const perStep: number[][] = Array.from({ length: options.steps + 1 }, () => []);
  for (let t = 0; t < options.taskCount; t++) {
    const [task] = options.sampler.sample(1, rng);
    if (!task) throw new Error("sampler returned no task");
    let current: Params = params;
    try {
      for (let step = 0; step <= options.steps; step++) {
        if (step > 0) {
          const next = tf.tidy(() => {
            const result = adapt(current, task.support, { ...options, innerSteps: 1 }).params;
            return { ...result } as Record<string, tf.Tensor>;
          });
          if (current !== params) disposeParams(current);
          current = next;
        }
        const accuracy = tf.tidy(() => {
          const logits = options.model.forward(current, task.query.x);
          return tf.mean(tf.cast(tf.equal(tf.argMax(logits, 1), tf.cast(task.query.y, "int32")), "float32")).dataSync()[0]!;
        });
        perStep[step]!.push(accuracy);
      }
    } finally {
      if (current !== params) disposeParams(current);
      tf.dispose([task.support.x, task.support.y, task.query.x, task.query.y]);
    }
    options.onTask?.(t + 1);
  }
  return perStep.map((values, step) => ({ step, ...meanAndCi(values) }));
}

export function meanAndCi(values: readonly number[]): { mean: number; ci95: number } {
  const n = values.length;
  const mean = values.reduce((a, b) => a + b, 0) / n;
  const variance = n > 1 ? values.reduce((a, b) => a + (b - mean) ** 2, 0) / (n - 1) : 0;
  return { mean, ci95: (1.96 * Math.sqrt(variance)) / Math.sqrt(n) };
}
