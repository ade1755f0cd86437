import * as tf from "@tensorflow/tfjs-core";
import { createRng, expect, expectInteger, type InnerOptimizer, type Model, type Objective, type Params } from "@concord/core";
import { adapt } from "@concord/algorithms";
import { type SinusoidSampler, sinusoid, sinusoidCurve } from "@concord/tasks";
import type { SinusoidFit } from "./types.js";

export interface SinusoidFitOptions {
  readonly model: Model;
  readonly objective: Objective;
  readonly innerOptimizer: InnerOptimizer;
  /** Inner steps on the support set before the "after" curve. */
  readonly steps: number;
  /** Number of tasks to draw. */
  readonly count: number;
  /** Fixes the tasks (drawn from createRng(seed)), so every arm is shown on the same ones. */
  readonly seed: number;
  /** The task distribution. Default sinusoid() (MAML paper settings). Pass a clean one (no corruption). */
  readonly sampler?: SinusoidSampler;
  /** Points of the dense x grid over the sampler's input range. Default 101. */
  readonly gridSize?: number;
}

/**
 * For `count` held-out sinusoid tasks: the model's predictions on a dense grid over the input range
 * before adaptation (θ) and after `steps` inner steps on the task's support set (θ' = adapt(θ)),
 * with the true curve A sin(x − φ) and the support points. Plain numbers, for the report.
 */
export function sinusoidFits(params: Params, options: SinusoidFitOptions): SinusoidFit[] {
  expect(options !== null && typeof options === "object", "options", "expected sinusoid fit options");
  expectInteger(options.steps, "steps", 0);
  expectInteger(options.count, "count", 1);
  expectInteger(options.seed, "seed");
  const gridSize = options.gridSize ?? 101;
  expectInteger(gridSize, "gridSize", 2);
  const sampler = options.sampler ?? sinusoid();
  expect(typeof sampler.sampleWithInfo === "function", "sampler", "expected a sinusoid sampler (with sampleWithInfo)");
  const [low, high] = sampler.options.inputRange;
  const xs = Array.from({ length: gridSize }, (_, i) => low + ((high - low) * i) / (gridSize - 1));

  const { tasks, info } = sampler.sampleWithInfo(options.count, createRng(options.seed));
  try {
    return tasks.map((task, index) =>
      tf.tidy(() => {
        const grid = tf.tensor2d(xs, [gridSize, 1]);
        const { params: adapted } = adapt(params, task.support, {
          model: options.model,
          objective: options.objective,
          innerOptimizer: options.innerOptimizer,
          innerSteps: options.steps,
        });
        const { amplitude, phase } = info[index]!;
        return {
          amplitude,
          phase,
          supportX: Array.from(task.support.x.dataSync()),
          supportY: Array.from(task.support.y.dataSync()),
          xs,
          truth: sinusoidCurve(amplitude, phase, xs),
          before: Array.from(options.model.forward(params, grid).dataSync()),
          after: Array.from(options.model.forward(adapted, grid).dataSync()),
          steps: options.steps,
        };
      }),
    );
  } finally {
    for (const task of tasks) tf.dispose([task.support.x, task.support.y, task.query.x, task.query.y]);
  }
}
