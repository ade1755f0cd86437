export type { CurvePoint, ReportArm, ReportData, ReportEvaluation, ReportStepStatistic, WeightSnapshot } from "./types.js";
export {
  type ArmIdentity,
  armStyles,
  type ChartSpec,
  type CheckpointSeries,
  checkpointAccuracyChart,
  diagnosticsChart,
  innerStepChart,
  learningCurveChart,
  panelChart,
  reportCharts,
  weightChart,
} from "./charts.js";
export {
  binWeights,
  type DiagnosticField,
  type DiagnosticPoint,
  diagnosticSeries,
  hasDiagnostic,
  lateMean,
  movingAverage,
  quantileSorted,
  smoothingWindow,
  thinIndices,
  type WeightBin,
  weightsAreUniform,
} from "./series.js";
export { armIterations, bestStep, everyArmHasAccuracy, finalAccuracy, finalStep, formatDuration, formatMeanCi } from "./format.js";
