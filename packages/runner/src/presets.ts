import { ConcordError } from "@concord/core";
import { type ExperimentConfig, type ExperimentConfigInput, parseConfig } from "./config.js";
import { OMNIGLOT_PRESETS } from "./presets-omniglot.js";
import { suggest } from "./schema-errors.js";

export interface Preset {
  readonly name: string;
  /** One line for `concord presets`. */
  readonly description: string;
  readonly config: ExperimentConfigInput;
}

/**
 * The MAML paper's sinusoid regression (Finn et al. 2017, sec. 5.1): MLP 1-40-40-1 ReLU, K = 10,
 * one inner SGD step with α = 0.01, meta-batch 25, Adam β = 1e-3. The iteration budget is sized so
 * that the main job (4 arms × 2 seeds, evaluation included) finishes in minutes on 2 cores.
 */
const sinusoidConfig = {
  seed: 0,
  iterations: 3000,
  metaBatchSize: 25,
  backend: "auto",
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
  compare: { algorithms: { reptile: { innerSteps: 5 } } },
} satisfies ExperimentConfigInput;

/** Every built-in preset. Add one by appending an entry (Omniglot presets live here too). */
export const PRESETS: readonly Preset[] = [
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
      compare: { algorithms: { maml: { order: 2, innerSteps: 5 } } },
    },
  },
  {
    name: "sinusoid-outliers",
    description: "sinusoid with 20% of meta-training tasks corrupted (targets replaced by N(0, 3²) noise); evaluated on clean tasks",
    config: {
      ...sinusoidConfig,
      tasks: { ...sinusoidConfig.tasks, corruption: { fraction: 0.2, noiseStd: 3 } },
    },
  },
  ...OMNIGLOT_PRESETS,
];

export function presetNames(): string[] {
  return PRESETS.map((preset) => preset.name);
}

/** The validated config of a built-in preset; an unknown name is refused with a suggestion. */
export function presetConfig(name: string): ExperimentConfig {
  const preset = PRESETS.find((candidate) => candidate.name === name);
  if (!preset) {
    const hint = suggest(name, presetNames());
    throw new ConcordError(
      `expected a config file or one of the presets ${presetNames().join(", ")}, got ${JSON.stringify(name)}${hint ? ` (did you mean "${hint}"?)` : ""}`,
      { field: "preset" },
    );
  }
  return parseConfig({ ...preset.config, description: preset.description });
}
