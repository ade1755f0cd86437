import * as tf from "@tensorflow/tfjs-core";
import { createRng, expect, expectInteger, type Params, type Task } from "@concord/core";
import { type EvaluationOptions, type EvaluationResult, meanWithCi95 } from "./evaluate-adaptation.js";
import { prototypeTaskLogits } from "./proto-net-loss.js";

/**
 * Scores a Prototypical Network on a fixed held-out task set, like evaluateAdaptation: `taskCount`
 * tasks drawn from `createRng(seed)` in chunks of `chunkSize`; per task the query loss of the
 * prototype logits and, when the objective reports it, the query accuracy. There is no inner loop,
 * so the result has one step (0) whatever `maxInnerSteps` says; mean and ci95 = 1.96·s/√n per
 * statistic. `innerOptimizer` and `adapt` are not used.
 */
export function evaluatePrototypes(params: Params, options: EvaluationOptions): EvaluationResult {
  expect(options !== null && typeof options === "object", "options", "expected evaluation options");
  expect(typeof options.sampler?.sample === "function", "sampler", "expected a TaskSampler with sample()");
  const taskCount = options.taskCount ?? 600;
  const chunkSize = options.chunkSize ?? 100;
  expectInteger(taskCount, "taskCount", 2);
  expectInteger(chunkSize, "chunkSize", 1);
  expectInteger(options.seed, "seed");
  const { model, objective } = options;
  const rng = createRng(options.seed);
  const losses: number[] = [];
  let accuracies: number[] | undefined = objective.metrics ? [] : undefined;
  for (let done = 0; done < taskCount; ) {
    const count = Math.min(chunkSize, taskCount - done);
    const tasks = options.sampler.sample(count, rng);
    try {
      expect(Array.isArray(tasks) && tasks.length === count, "sampler", `expected ${count} tasks from sampler '${options.sampler.name}'`);
      for (const task of tasks) {
        const [loss, accuracy] = tf.tidy(() => {
          const logits = prototypeTaskLogits(model, params, task.support, task.query.x);
          const value = objective.loss(logits, task.query.y);
          const metric = accuracies ? objective.metrics!(logits, task.query.y).accuracy : undefined;
          return metric ? [value.dataSync()[0]!, metric.dataSync()[0]!] : [value.dataSync()[0]!, undefined];
        });
        losses.push(loss!);
        if (accuracy === undefined) accuracies = undefined;
        else accuracies?.push(accuracy);
      }
    } finally {
      disposeTasks(tasks);
    }
    done += count;
    options.onProgress?.(done, taskCount);
  }
  return {
    taskCount,
    loss: [{ step: 0, ...meanWithCi95(losses) }],
    ...(accuracies ? { accuracy: [{ step: 0, ...meanWithCi95(accuracies) }], perTaskAccuracy: [accuracies] } : {}),
    perTaskLoss: [losses],
    backend: tf.getBackend(),
  };
}

function disposeTasks(tasks: readonly Task[] | undefined): void {
  if (!Array.isArray(tasks)) return;
  for (const task of tasks) tf.dispose([task.support.x, task.support.y, task.query.x, task.query.y]);
}
