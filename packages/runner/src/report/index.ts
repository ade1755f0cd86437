export type { CurvePoint, ReportArm, ReportData, SinusoidFit, WeightSnapshot } from "./types.js";
export { type SinusoidFitOptions, sinusoidFits } from "./sinusoid-fits.js";
export { type WrittenReport, writeReport } from "./write-report.js";
export { formatDuration, formatMeanCi } from "./format.js";
