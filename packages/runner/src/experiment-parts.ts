import { adapt, type EvaluationResult, evaluateAdaptation, hasOwnEvaluation, type TaskPool } from "@concord/algorithms";
import {
  ConcordError,
  type InnerOptimizer,
  type MetaAlgorithm,
  type Model,
  type Objective,
  type OuterOptimizer,
  type Params,
  type ReportArmParams,
  type ReportPanel,
  type TaskSampler,
  type WeightingScheme,
} from "@concord/core";
import type { ExperimentConfig, PluginSpec } from "./config.js";
import type { Registry } from "./registry.js";

/** The plug-ins a config names, created and shape-checked (all tensor-free until used). */
export interface ExperimentParts {
  readonly sampler: TaskSampler;
  /** `evaluation.sampler` when given, else the training family's clean evaluation variant. */
  readonly evaluationSampler: TaskSampler;
  readonly model: Model;
  readonly objective: Objective;
  readonly innerOptimizer: InnerOptimizer;
  readonly algorithm: MetaAlgorithm;
  readonly weighting: WeightingScheme;
}

/** Objects a config cannot name that the parts are created with. */
export interface PartsRuntime {
  /** Computes the meta-batch's tasks elsewhere (worker threads, or @concord/distributed's queue); given to the algorithm factory as `pool`. */
  readonly pool?: TaskPool;
}

/** Creates every stateless plug-in a config names (task families may load data, hence async). */
export async function createParts(config: ExperimentConfig, registry: Registry, runtime: PartsRuntime = {}): Promise<ExperimentParts> {
  const parts: ExperimentParts = {
    sampler: await registry.createAsync("tasks", config.tasks, "tasks"),
    evaluationSampler: config.evaluation.sampler
      ? await registry.createAsync("tasks", config.evaluation.sampler, "evaluation.sampler")
      : await registry.createEvaluationTasks(config.tasks, "tasks"),
    model: registry.create("model", config.model, "model"),
    objective: registry.create("objective", config.objective, "objective"),
    innerOptimizer: registry.create("innerOptimizer", config.innerOptimizer, "innerOptimizer"),
    algorithm: registry.create("algorithm", config.algorithm, "algorithm", runtime.pool ? { pool: runtime.pool } : undefined),
    weighting: registry.create("weighting", config.weighting, "weighting"),
  };
  expectTaskGroups(parts.weighting, parts.sampler, config.weighting.name);
  return parts;
}

/** A scheme that weighs task groups needs a sampler that declares as many: refused here, before any training. */
function expectTaskGroups(weighting: WeightingScheme, sampler: TaskSampler, name: string): void {
  if (weighting.taskGroups === undefined) return;
  const declared = sampler.groups?.length;
  if (declared === weighting.taskGroups) return;
  const got = declared === undefined ? "a task sampler that declares no groups" : `a task sampler with ${declared} groups`;
  throw new ConcordError(
    `weighting '${name}' weighs ${weighting.taskGroups} task groups; got ${got} (set its groups option, or choose tasks that declare groups)`,
    {
      field: "weighting.groups",
    },
  );
}

/** The outer optimizer holds the run's state (Adam moments), so the run creates, restores and disposes it. */
export function createOuterOptimizer(config: ExperimentConfig, registry: Registry): OuterOptimizer {
  return registry.create("outerOptimizer", config.outerOptimizer, "outerOptimizer");
}

/** The task family a run is evaluated on (`evaluation.sampler`, else its training family). */
export function evaluationFamily(config: ExperimentConfig): PluginSpec {
  return config.evaluation.sampler ?? config.tasks;
}

/**
 * Scores `params` on the config's fixed held-out tasks (evaluateAdaptation, or the algorithm's own
 * evaluation when it has one: protoNet scores its prototype classifier); `taskCount` /
 * `maxInnerSteps` may be overridden.
 */
export function evaluateOnHeldOut(
  params: Params,
  parts: Pick<ExperimentParts, "model" | "objective" | "innerOptimizer" | "evaluationSampler"> & { readonly algorithm?: MetaAlgorithm },
  config: ExperimentConfig,
  overrides: { taskCount?: number; maxInnerSteps?: number } = {},
): EvaluationResult {
  const evaluate = hasOwnEvaluation(parts.algorithm) ? parts.algorithm.evaluate.bind(parts.algorithm) : evaluateAdaptation;
  return evaluate(params, {
    model: parts.model,
    objective: parts.objective,
    innerOptimizer: parts.innerOptimizer,
    sampler: parts.evaluationSampler,
    taskCount: overrides.taskCount ?? config.evaluation.tasks,
    maxInnerSteps: overrides.maxInnerSteps ?? config.evaluation.innerSteps,
    seed: config.evaluation.seed,
    // Evaluation adapts what training adapted (ANIL: the head only).
    ...(parts.algorithm?.adapt !== undefined ? { adapt: parts.algorithm.adapt } : {}),
    ...(config.evaluation.chunkSize !== undefined ? { chunkSize: config.evaluation.chunkSize } : {}),
  });
}

/**
 * The report panels of the config's task family (none when it has no `reportPanels`), drawn from
 * each arm's final parameters with the run's model, objective, inner optimizer and task options.
 */
export async function familyPanels(config: ExperimentConfig, registry: Registry, arms: readonly ReportArmParams[]): Promise<ReportPanel[]> {
  const family = registry.definition("tasks", config.tasks.name);
  if (!family?.reportPanels || arms.length === 0) return [];
  const model = registry.create("model", config.model, "model");
  const objective = registry.create("objective", config.objective, "objective");
  const innerOptimizer = registry.create("innerOptimizer", config.innerOptimizer, "innerOptimizer");
  const selection = registry.create("algorithm", config.algorithm, "algorithm").adapt;
  const panels = await family.reportPanels({
    arms,
    model,
    objective,
    innerOptimizer,
    taskOptions: await registry.taskOptions(config.tasks, "tasks"),
    steps: config.evaluation.innerSteps,
    seed: config.evaluation.seed,
    adapt: (params, support, steps) =>
      adapt(params, support, { model, objective, innerOptimizer, innerSteps: steps, ...(selection !== undefined ? { adapt: selection } : {}) }).params,
  });
  return [...panels];
}
