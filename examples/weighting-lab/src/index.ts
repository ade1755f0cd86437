export { type RunRecord, checkRunRecord, runRecordOf } from "./run-record.js";
export { type ArmRow, type Criterion, type PresetBoard, presetBoard, type SeedLevel, TAIL_ALPHA, type Verdict, type VersusUniform } from "./leaderboard.js";
