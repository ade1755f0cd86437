export { type AdaptationState, type AdaptOptions, type Adapted, adapt, adaptedNames, adaptStep, type Execution } from "./adapt.js";
export {
  combineEvaluations,
  type EvaluationExecution,
  type EvaluationOptions,
  type EvaluationResult,
  evaluateAdaptation,
  meanWithCi95,
  type StepStatistic,
} from "./evaluate-adaptation.js";
export { type MamlOptions, maml } from "./maml.js";
export { type PairedDifference, type PairedStep, type PerTaskValues, pairedDifference } from "./paired-difference.js";
export { effectiveTaskCount, type ExecutionOption, meanPairwiseCosine, weightedDirectionCosine } from "./meta-step.js";
export { type ReptileOptions, reptile } from "./reptile.js";
export { taskUpdates, updatesFromAdapted } from "./task-updates.js";
export type { TaskPool } from "./parallel/pool-contract.js";
export {
  bootstrapStandardError,
  conditionalValueAtRisk,
  type Interval,
  seedLevelInterval,
  studentT975,
  tailCount,
  type TailOptions,
  type TailSummary,
  tailSummary,
  type WorseEnd,
  type WorstGroup,
  worstGroup,
} from "./tail-statistics.js";
export { hasOwnEvaluation, protoNet, type SelfEvaluatingAlgorithm } from "./proto-net.js";
export { evaluatePrototypes } from "./proto-net-evaluation.js";
export { embedTask, prototypeTaskLogits, prototypeTaskLoss, type SupportStatisticsModel, usesSupportStatistics } from "./proto-net-loss.js";
export { algorithmDefinitions } from "./definitions.js";
