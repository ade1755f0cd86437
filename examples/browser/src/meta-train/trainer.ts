/**
 * Sinusoid meta-training with two arms side by side, uniform and gradient-agreement task weighting:
 * same initial parameters, same task stream, same held-out tasks (the MAML paper's setting: MLP
 * 1-40-40-1, K = 10, α = 0.01, meta-batch 25, Adam 1e-3). Runs wherever tf runs (the worker uses it).
 */
import * as tf from "@tensorflow/tfjs-core";
import { adapt, maml, reptile } from "@concord/algorithms";
import { createRng, disposeParams, type MetaAlgorithm, type Params, type Rng, type Task, type WeightingScheme } from "@concord/core";
import { meanSquaredError, mlp } from "@concord/models";
import { adam, sgd } from "@concord/optimizers";
import { sinusoid, sinusoidCurve } from "@concord/tasks";
import { gradientAgreement, uniform } from "@concord/weighting";
import type { AlgorithmChoice, ArmFit, ArmProgress } from "./protocol.js";

const META_BATCH = 25;
const HELD_OUT_TASKS = 25;
const FIT_POINTS = 100;

interface Arm {
  /** "uniform" or "agreement": how the page labels the arm. */
  readonly key: string;
  readonly weighting: WeightingScheme;
  readonly outer: ReturnType<typeof adam>;
  readonly taskRng: Rng;
  params: Params;
}

export class SinusoidTrainer {
  readonly model = mlp({ sizes: [1, 40, 40, 1], activation: "relu", init: "pytorch" });
  readonly objective = meanSquaredError();
  readonly innerOptimizer = sgd({ lr: 0.01 });
  readonly algorithm: MetaAlgorithm;
  readonly innerSteps: number;
  private readonly sampler;
  private readonly arms: Arm[];
  private readonly heldOut: Task[];
  private readonly fitTask: { task: Task; amplitude: number; phase: number };
  iteration = 0;

  constructor(algorithm: AlgorithmChoice, seed: number, corruption: number) {
    this.innerSteps = algorithm === "reptile" ? 5 : 1;
    this.algorithm =
      algorithm === "reptile"
        ? reptile({ innerSteps: this.innerSteps, execution: "batched" })
        : maml({ order: algorithm === "maml2" ? 2 : 1, innerSteps: 1, execution: "batched" });
    const tasks = { amplitude: [0.1, 5], phase: [0, Math.PI], inputRange: [-5, 5], supportSize: 10, querySize: 10 } as const;
    this.sampler = sinusoid(corruption > 0 ? { ...tasks, corruption: { fraction: corruption, noiseStd: 3 } } : tasks);
    const clean = sinusoid(tasks);
    const initial = this.model.init(createRng(seed));
    this.arms = (
      [
        ["uniform", uniform()],
        ["agreement", gradientAgreement()],
      ] as const
    ).map(([key, weighting]) => ({
      key,
      weighting,
      outer: adam({ lr: 0.001 }),
      // The same seed for both arms: identical task streams.
      taskRng: createRng(seed + 1),
      params: tf.tidy(() => Object.fromEntries(Object.entries(initial).map(([name, value]) => [name, value.clone()]))),
    }));
    disposeParams(initial);
    // Held-out tasks are fixed by their own seed, whatever the training seed.
    this.heldOut = clean.sample(HELD_OUT_TASKS, createRng(20_181_017));
    const withInfo = clean.sampleWithInfo(1, createRng(7));
    this.fitTask = { task: withInfo.tasks[0]!, amplitude: withInfo.info[0]!.amplitude, phase: withInfo.info[0]!.phase };
  }

  /** One meta-iteration of every arm; returns each arm's mean post-adaptation query loss. */
  step(): ArmProgress[] {
    const progress = this.arms.map((arm) => {
      const tasks = this.sampler.sample(META_BATCH, arm.taskRng);
      try {
        const result = this.algorithm.step({
          params: arm.params,
          tasks,
          model: this.model,
          objective: this.objective,
          innerOptimizer: this.innerOptimizer,
          weighting: arm.weighting,
          iteration: this.iteration,
        });
        const next = arm.outer.apply(arm.params, result.metaGradient);
        disposeParams(result.metaGradient);
        disposeParams(arm.params);
        arm.params = next;
        return { weighting: arm.key, trainLoss: result.metrics.queryLossAfter };
      } finally {
        for (const task of tasks) tf.dispose([task.support.x, task.support.y, task.query.x, task.query.y]);
      }
    });
    this.iteration += 1;
    return progress;
  }

  /** Mean held-out query loss after `innerSteps` adaptation steps, per arm. */
  heldOutLosses(): number[] {
    return this.arms.map((arm) =>
      tf.tidy(() => {
        const losses = this.heldOut.map((task) => {
          const adapted = adapt(arm.params, task.support, this);
          return this.objective.loss(this.model.forward(adapted.params, task.query.x), task.query.y);
        });
        return tf.mean(tf.stack(losses)).dataSync()[0]!;
      }),
    );
  }

  /** Each arm's prediction on one held-out curve before and after adapting to its 10 support points. */
  fits(): { xs: number[]; truth: number[]; support: { x: number[]; y: number[] }; arms: ArmFit[] } {
    const xs = Array.from({ length: FIT_POINTS }, (_, i) => -5 + (10 * i) / (FIT_POINTS - 1));
    const { task, amplitude, phase } = this.fitTask;
    const arms = this.arms.map((arm) =>
      tf.tidy(() => {
        const grid = tf.tensor2d(xs, [FIT_POINTS, 1]);
        const adapted = adapt(arm.params, task.support, this);
        return {
          weighting: arm.key,
          before: Array.from(this.model.forward(arm.params, grid).dataSync()),
          after: Array.from(this.model.forward(adapted.params, grid).dataSync()),
        };
      }),
    );
    return {
      xs,
      truth: sinusoidCurve(amplitude, phase, xs),
      support: { x: Array.from(task.support.x.dataSync()), y: Array.from(task.support.y.dataSync()) },
      arms,
    };
  }

  dispose(): void {
    for (const arm of this.arms) {
      disposeParams(arm.params);
      arm.outer.dispose();
    }
    for (const task of [...this.heldOut, this.fitTask.task]) tf.dispose([task.support.x, task.support.y, task.query.x, task.query.y]);
  }
}
