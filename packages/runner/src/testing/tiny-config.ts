// A tiny experiment config for fast runner tests (a 1-8-1 MLP, 4 tasks per meta-batch, cpu).
import type { ExperimentConfigInput } from "../config.js";

export function tinyConfig(overrides: Partial<ExperimentConfigInput> = {}): ExperimentConfigInput {
  return {
    seed: 3,
    iterations: 12,
    metaBatchSize: 4,
    backend: "cpu",
    weighting: "agreement",
    algorithm: { name: "maml", order: 2, innerSteps: 1 },
    model: { name: "mlp", sizes: [1, 8, 1], init: "pytorch" },
    tasks: { name: "sinusoid", supportSize: 5, querySize: 5 },
    objective: "mse",
    innerOptimizer: { name: "sgd", lr: 0.01 },
    outerOptimizer: { name: "adam", lr: 0.01 },
    evaluation: { tasks: 8, innerSteps: 2 },
    checkpointEvery: 5,
    logEvery: 5,
    ...overrides,
  };
}
