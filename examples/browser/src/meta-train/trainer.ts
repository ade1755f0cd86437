/**
 * Sinusoid meta-training with arms side by side that differ only in their task weighting scheme
 * (uniform and gradient agreement unless chosen otherwise): same initial parameters, same task
 * stream, same held-out tasks (the MAML paper's setting: MLP 1-40-40-1, K = 10, α = 0.01,
 * meta-batch 25, Adam 1e-3). Runs wherever tf runs (the worker uses it; the browser test runs it in Node).
 */
import * as tf from "@tensorflow/tfjs-core";
import { adapt, maml, reptile } from "@concord/algorithms";
import { createRng, disposeParams, type MetaAlgorithm, type Params, type Rng, type Task, type TaskSampler, type WeightingScheme } from "@concord/core";
import { meanSquaredError, mlp } from "@concord/models";
import { adam, sgd } from "@concord/optimizers";
import { sinusoid, sinusoidCurve } from "@concord/tasks";
import type { AlgorithmChoice, ArmFit, ArmProgress } from "./protocol.js";
import { DEFAULT_ARMS, type WeightingChoice, weightingKey } from "./weighting-choice.js";
import { checkArmChoices, weightingFromChoice } from "./weighting-from-choice.js";

const META_BATCH = 25;
const HELD_OUT_TASKS = 25;
const FIT_POINTS = 100;
const AMPLITUDE = [0.1, 5] as const;

interface Arm {
  /** The arm's key in progress messages: weightingKey of its scheme ("uniform", "tail-risk(alpha=0.1)"). */
  readonly key: string;
  readonly weighting: WeightingScheme;
  /** The training tasks; the arms' samplers differ only in their task groups (TR-MAML's bands). */
  readonly sampler: TaskSampler;
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
  private readonly arms: Arm[];
  private readonly heldOut: Task[];
  private readonly fitTask: { task: Task; amplitude: number; phase: number };
  iteration = 0;

  /** `weightings`: one scheme per arm, all different (checked: a ConcordError names the bad field). */
  constructor(algorithm: AlgorithmChoice, seed: number, corruption: number, weightings: readonly WeightingChoice[] = DEFAULT_ARMS) {
    // Checked and built before any tensor exists, so a bad choice leaks nothing.
    const choices = checkArmChoices(weightings);
    const schemes = choices.map((choice, arm) => weightingFromChoice(choice, `weightings[${arm}]`));
    this.innerSteps = algorithm === "reptile" ? 5 : 1;
    this.algorithm =
      algorithm === "reptile"
        ? reptile({ innerSteps: this.innerSteps, execution: "batched" })
        : maml({ order: algorithm === "maml2" ? 2 : 1, innerSteps: 1, execution: "batched" });
    const tasks = { amplitude: AMPLITUDE, phase: [0, Math.PI], inputRange: [-5, 5], supportSize: 10, querySize: 10 } as const;
    const training = corruption > 0 ? { ...tasks, corruption: { fraction: corruption, noiseStd: 3 } } : tasks;
    const clean = sinusoid(tasks);
    const initial = this.model.init(createRng(seed));
    this.arms = choices.map((choice, arm) => ({
      key: weightingKey(choice),
      weighting: schemes[arm]!,
      // Band edges draw no random numbers: every arm's sampler gives the same tasks from the same seed.
      sampler: sinusoid(choice.name === "tr-maml" ? { ...training, amplitudeBands: equalBands(choice.groups) } : training),
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
      const tasks = arm.sampler.sample(META_BATCH, arm.taskRng);
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
        return { arm: arm.key, trainLoss: result.metrics.queryLossAfter };
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
  fits(): { innerSteps: number; xs: number[]; truth: number[]; support: { x: number[]; y: number[] }; arms: ArmFit[] } {
    const xs = Array.from({ length: FIT_POINTS }, (_, i) => -5 + (10 * i) / (FIT_POINTS - 1));
    const { task, amplitude, phase } = this.fitTask;
    const arms = this.arms.map((arm) =>
      tf.tidy(() => {
        const grid = tf.tensor2d(xs, [FIT_POINTS, 1]);
        const adapted = adapt(arm.params, task.support, this);
        return {
          arm: arm.key,
          before: Array.from(this.model.forward(arm.params, grid).dataSync()),
          after: Array.from(this.model.forward(adapted.params, grid).dataSync()),
        };
      }),
    );
    return {
      innerSteps: this.innerSteps,
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

/** Edges of `groups` equal amplitude bands (for 5, the sampler's default bands, edge for edge). */
function equalBands(groups: number): number[] {
  const [low, high] = AMPLITUDE;
  return Array.from({ length: groups + 1 }, (_, b) => (b === groups ? high : low + ((high - low) * b) / groups));
}
