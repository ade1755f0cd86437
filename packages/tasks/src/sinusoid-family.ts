import type { PresetDefinition, TaskFamilyDefinition } from "@concord/core";
import { z } from "zod";
import { type SinusoidOptions, sinusoid } from "./sinusoid.js";
import { sinusoidFitPanel, sinusoidFits } from "./sinusoid-fits.js";

const finite = z.number().refine(Number.isFinite, "a finite number");
const range = z.tuple([finite, finite]);

/** The options a config may give the "sinusoid" tasks (see `sinusoid()`); unknown fields are refused. */
export const sinusoidOptionsSchema = z.strictObject({
  amplitude: range.optional(),
  phase: range.optional(),
  inputRange: range.optional(),
  supportSize: z.number().int().min(1).optional(),
  querySize: z.number().int().min(1).optional(),
  corruption: z.strictObject({ fraction: finite.min(0).max(1), noiseStd: finite.min(0).optional() }).optional(),
  amplitudeBands: z.array(finite).min(2).optional(),
  bandProbabilities: z.array(finite.min(0).max(1)).min(1).optional(),
});

/**
 * Options of the task-weighting schemes that take some, for `concord compare --weighting …` on the
 * sinusoid presets: chosen once, before any run, not tuned per preset. TR-MAML's 5 groups are the
 * default amplitude bands; tail-risk averages the worst 10% of a meta-batch (CVaR at 10%, the tail
 * the evaluation reports); loss-softmax's τ = 1 is of the order of an adapted task's MSE.
 */
const sinusoidWeightingOptions = {
  "tr-maml": { groups: 5, lr: 0.01 },
  "tail-risk": { alpha: 0.1 },
  "loss-softmax": { temperature: 1 },
};

/**
 * The MAML paper's sinusoid regression (Finn et al. 2017, sec. 5.1): MLP 1-40-40-1 ReLU, K = 10,
 * one inner SGD step with α = 0.01, meta-batch 25, Adam β = 1e-3. The iteration budget is sized so
 * that the main job (4 arms × 2 seeds, evaluation included) finishes in minutes on 2 cores.
 */
const sinusoidConfig = {
  seed: 0,
  iterations: 3000,
  metaBatchSize: 25,
  backend: "wasm", // not "auto": that picks native where its addon is built, and `pnpm start` must print the same numbers everywhere
  weighting: "uniform",
  algorithm: { name: "maml", order: 2, innerSteps: 1 },
  model: { name: "mlp", sizes: [1, 40, 40, 1], activation: "relu", init: "pytorch" },
  tasks: { name: "sinusoid", amplitude: [0.1, 5], phase: [0, Math.PI], inputRange: [-5, 5], supportSize: 10, querySize: 10 },
  objective: "mse",
  innerOptimizer: { name: "sgd", lr: 0.01 },
  outerOptimizer: { name: "adam", lr: 0.001 },
  evaluation: { tasks: 600, innerSteps: 10 },
  checkpointEvery: 500,
  logEvery: 100,
  compare: { algorithms: { reptile: { innerSteps: 5 } }, weightings: sinusoidWeightingOptions },
};

/**
 * The imbalanced sinusoid, after TR-MAML's sinusoid experiments (Collins et al. 2020): amplitude
 * bands [0.1, 1), [1, 2), [2, 3), [3, 4), [4, 5] drawn with probabilities 0.45, 0.3, 0.15, 0.07,
 * 0.03 in meta-training, so the hardest bands (largest A, largest error) are the rarest: a meta-batch
 * of 25 holds on average 0.75 tasks of the top band. Evaluation is balanced (A ~ U[0.1, 5]) and
 * reports each band, so the worst band shows what the imbalance cost.
 */
const imbalancedTasks = { ...sinusoidConfig.tasks, amplitudeBands: [0.1, 1, 2, 3, 4, 5], bandProbabilities: [0.45, 0.3, 0.15, 0.07, 0.03] };

/** sinusoid (MAML paper), sinusoid-ga-paper (GA paper), sinusoid-meta-sgd (learned inner rates), sinusoid-outliers (20% corrupted training tasks), sinusoid-imbalanced (rare hard amplitude bands). */
export const SINUSOID_PRESETS: readonly PresetDefinition[] = [
  {
    name: "sinusoid",
    description: "MAML paper sine regression: MLP 1-40-40-1, K=10, one inner step (α=0.01), meta-batch 25, Adam 1e-3",
    config: sinusoidConfig,
  },
  {
    name: "sinusoid-ga-paper",
    description: "GA paper sine setting: MLP 1-64-64-1, phase U[0, 2π], K=10, 5 inner steps, 1000 test tasks (paper: Reptile 0.13, GA 0.08)",
    config: {
      ...sinusoidConfig,
      iterations: 10_000,
      weighting: "agreement",
      algorithm: { name: "reptile", innerSteps: 5 },
      model: { name: "mlp", sizes: [1, 64, 64, 1], activation: "relu", init: "pytorch" },
      tasks: { ...sinusoidConfig.tasks, phase: [0, 2 * Math.PI] },
      evaluation: { tasks: 1000, innerSteps: 10 },
      checkpointEvery: 1000,
      logEvery: 500,
      compare: { algorithms: { maml: { order: 2, innerSteps: 5 } }, weightings: sinusoidWeightingOptions },
    },
  },
  {
    name: "sinusoid-meta-sgd",
    description: "sinusoid with Meta-SGD (Li et al. 2017): per-element inner rates lr/<name>, initialised to 0.01, meta-learned with θ; evaluated after 1 step",
    // Evaluated after the one step it was trained for: the learned rates overshoot beyond it (at 3000
    // iterations, seeds 0-1: held-out MSE 0.31 after 1 step, 0.81 after 2, 7·10⁷ after 3; the record is
    // examples/sinusoid/results/meta-sgd/summary.json).
    config: { ...sinusoidConfig, innerOptimizer: { name: "meta-sgd", lr: 0.01 }, evaluation: { tasks: 600, innerSteps: 1 } },
  },
  {
    name: "sinusoid-outliers",
    description: "sinusoid with 20% of meta-training tasks corrupted (targets replaced by N(0, 3²) noise); evaluated on clean tasks",
    config: {
      ...sinusoidConfig,
      tasks: { ...sinusoidConfig.tasks, corruption: { fraction: 0.2, noiseStd: 3 } },
    },
  },
  {
    name: "sinusoid-imbalanced",
    description:
      "sinusoid with imbalanced amplitude bands (after TR-MAML): A in [0.1,1), [1,2), [2,3), [3,4), [4,5] with probabilities 0.45/0.3/0.15/0.07/0.03 in training; balanced evaluation, per band",
    config: { ...sinusoidConfig, tasks: imbalancedTasks },
  },
];

/** Sinusoid tasks without their corruption and band imbalance: what a run is evaluated (and its fits drawn) on. */
function cleanOptions(options: SinusoidOptions): SinusoidOptions {
  const { corruption: _corruption, bandProbabilities: _bandProbabilities, ...clean } = options;
  return clean;
}

/**
 * The "sinusoid" task family: y = A sin(x − φ) regression, evaluated on clean tasks (no
 * `corruption`), with the report panel of fits drawn from the run's own task options.
 */
export const sinusoidFamily: TaskFamilyDefinition<SinusoidOptions> = {
  kind: "tasks",
  name: "sinusoid",
  description: "y = A sin(x − φ) regression (MAML paper)",
  options: sinusoidOptionsSchema,
  create: (options) => sinusoid(options),
  presets: SINUSOID_PRESETS,
  evaluationOptions: cleanOptions,
  reportPanels(context) {
    const sampler = sinusoid(cleanOptions(context.taskOptions));
    const arms = context.arms.map((arm) => ({
      name: arm.name,
      fits: sinusoidFits(arm.params, {
        model: context.model,
        innerOptimizer: context.innerOptimizer,
        adapt: context.adapt,
        steps: context.steps,
        count: 4,
        seed: context.seed,
        sampler,
      }),
    }));
    return [sinusoidFitPanel(arms, sampler)];
  },
};
