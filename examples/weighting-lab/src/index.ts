export { type RunRecord, checkRunRecord, runRecordOf } from "./run-record.js";
export { type ArmRow, type Criterion, type PresetBoard, presetBoard, type SeedLevel, TAIL_ALPHA, type Verdict, type VersusUniform } from "./leaderboard.js";
export { type KeyedBoard, type LeaderboardFile, leaderboardFile, verdictSentence } from "./leaderboard-file.js";
export { renderTables, replaceTables, TABLES_BEGIN, TABLES_END } from "./weighting-doc.js";
