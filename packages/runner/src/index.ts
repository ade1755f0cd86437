// @concord/runner's public API: the runner's own names only (other packages' names are imported from
// those packages). The `concord` command line is @concord/cli, built on this API.

// Training from code: plug-ins in, parameters out (no files).
export { type IterationEvent, splitSeed, type TrainOptions, type TrainResult, type TrainState, train } from "./train.js";

// Experiment configs and the plug-in registry that turns their names into parts.
export {
  configToJson,
  type ExperimentConfig,
  type ExperimentConfigInput,
  experimentConfigSchema,
  loadConfigFile,
  PLUGIN_KINDS,
  type PluginKind,
  type PluginSpec,
  parseConfig,
  withDataDir,
  withOverrides,
} from "./config.js";
export { createRegistry } from "./builtins.js";
export { type PluginFactory, type RegisteredPreset, Registry, type RegisterOptions } from "./registry.js";
export { loadPlugins, type PluginModule, registerPluginModule } from "./plugins.js";
export { listPresets, type Preset, presetConfig } from "./presets.js";
export { createParts, evaluateOnHeldOut, evaluationFamily, type ExperimentParts, type PartsRuntime } from "./experiment-parts.js";

// One run in a folder: checkpoints, metrics, resume, evaluation.
export { type RunOptions, type RunResult, runExperiment } from "./run-experiment.js";
export { TrainingDiverged } from "./training-loop.js";
export { isEntryModule } from "./entry-module.js";
export type { ProgressMode } from "./progress.js";
export {
  CHECKPOINT_FILE,
  CONFIG_FILE,
  checkpointConfig,
  EVALUATION_FILE,
  evaluationSummary,
  METRICS_FILE,
  RunFolder,
  type SavedEvaluation,
} from "./run-folder.js";
export {
  type CheckpointData,
  checkpointBackend,
  checkpointBuild,
  disposeCheckpoint,
  type LoadedCheckpoint,
  loadCheckpoint,
  saveCheckpoint,
} from "./checkpoint.js";
export { MetricsLog, type MetricsRecord, metricsRecord, readMetrics } from "./metrics-log.js";
export { writeFileAtomicSync } from "./atomic-file.js";
export { buildFingerprint } from "./build-fingerprint.js";
export { LEASE_FILE, leaseFence, readLease, type RunLease, StaleWriter, type WriteFence, writeLease } from "./run-lease.js";

// Many runs: arms × seeds on the same tasks, scheduled here or by another scheduler (a queue).
export {
  type ArmPlan,
  type CompareOptions,
  type CompareResult,
  compareExperiment,
  planArms,
  planRuns,
  type RunOutcome,
  type RunPlan,
  type RunScheduler,
  type ScheduleOptions,
  scheduleRuns,
} from "./compare/index.js";

// A run's checkpoint as a @concord/deploy export.
export { type ExportResult, exportCheckpoint, exportedTrainingConfig } from "./export-checkpoint.js";
