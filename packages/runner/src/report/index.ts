export type { CurvePoint, ReportArm, ReportData, WeightSnapshot } from "./types.js";
export { type WrittenReport, writeReport } from "./write-report.js";
export { formatDuration, formatMeanCi } from "./format.js";
