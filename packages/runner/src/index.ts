export { type IterationEvent, splitSeed, type TrainOptions, type TrainResult, type TrainState, train } from "./train.js";
export {
  combineEvaluations,
  type EvaluationExecution,
  type EvaluationOptions,
  type EvaluationResult,
  evaluateAdaptation,
  meanWithCi95,
  type StepStatistic,
} from "@concord/algorithms";
export { type CurvePoint, formatDuration, formatMeanCi, type ReportArm, type ReportData, type WeightSnapshot } from "@concord/report";
export { type WrittenReport, writeReport } from "@concord/report/node";
export { formatResultsTable } from "./table.js";
export { BACKEND_CHOICES, type BackendChoice, useBackend } from "@concord/backend";
export { configToJson, type ExperimentConfig, type ExperimentConfigInput, experimentConfigSchema, loadConfigFile, parseConfig, PLUGIN_KINDS, type PluginKind, type PluginSpec } from "./config.js";
export { listPresets, type Preset, presetConfig, presetNames } from "./presets.js";
export { type PluginFactory, type PluginTypes, type RegisteredPreset, Registry, type RegisterOptions } from "./registry.js";
export { createRegistry, registerBuiltins } from "./builtins.js";
export { loadPlugin, loadPlugins, type PluginModule, registerPluginModule } from "./plugins.js";
export { type CheckpointData, checkpointBuild, disposeCheckpoint, type LoadedCheckpoint, loadCheckpoint, saveCheckpoint } from "./checkpoint.js";
export { buildFingerprint, type FingerprintPackage, fingerprintOf } from "./build-fingerprint.js";
export { MetricsLog, type MetricsRecord, metricsRecord, readMetrics } from "./metrics-log.js";
export { createProgress, type ProgressMode, type ProgressOptions, type ProgressReporter } from "./progress.js";
export { CHECKPOINT_FILE, CONFIG_FILE, checkpointConfig, EVALUATION_FILE, METRICS_FILE, RunFolder, type SavedEvaluation } from "./run-folder.js";
export { createOuterOptimizer, createParts, evaluateOnHeldOut, evaluationFamily, type ExperimentParts, familyPanels, type PartsRuntime } from "./experiment.js";
export { type RunOptions, type RunResult, runExperiment } from "./run.js";
export { LEASE_FILE, leaseFence, readLease, type RunLease, StaleWriter, type WriteFence, writeLease } from "./run-lease.js";
export { runTrainingLoop, TrainingDiverged, type TrainingLoopOptions, type TrainingLoopResult } from "./training-loop.js";
export { type ArmPlan, type CompareOptions, type CompareResult, compareExperiment, planArms, planRuns, type RunOutcome, type RunPlan, type RunScheduler, type ScheduleOptions, scheduleRuns } from "./compare/index.js";
