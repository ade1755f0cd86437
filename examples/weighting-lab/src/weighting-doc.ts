import type { KeyedBoard, LeaderboardFile } from "./leaderboard-file.js";

/** Where docs/WEIGHTING.md's generated tables sit; everything outside them is written by hand. */
export const TABLES_BEGIN = "<!-- weighting-lab:tables -->";
export const TABLES_END = "<!-- /weighting-lab:tables -->";

/**
 * The leaderboard tables of docs/WEIGHTING.md, one per preset, every number a doc-numbers marker
 * into `leaderboardPath` (so `pnpm test` fails when the document and the record disagree).
 */
export function renderTables(file: LeaderboardFile, leaderboardPath: string): string {
  return Object.values(file.boards)
    .map((board) => renderBoard(board, leaderboardPath))
    .join("\n");
}

function renderBoard(board: KeyedBoard, path: string): string {
  const base = `${path}#boards.${board.preset}`;
  const accuracy = board.metric === "accuracy";
  const value = accuracy ? "pct2 ci" : "fixed3 ci";
  const difference = accuracy ? "pct2 ci signed" : "fixed3 ci signed";
  const marker = (expression: string, format: string, shown = "") => `<!-- n:${expression} | ${format} -->${shown}<!-- /n -->`;
  const grouped = Object.values(board.arms).some((arm) => arm.worstGroup);
  const unit = accuracy ? "accuracy, %" : "loss";
  const lines = [
    `### \`${board.preset}\``,
    "",
    `${board.seeds.length} seeds × ${board.tasks} held-out tasks (the same tasks for every arm and seed), ${board.iterations} iterations, ` +
      `${accuracy ? "accuracy" : "query MSE"} after ${board.step} inner steps${accuracy ? " (higher is better)" : " (lower is better)"}; backend ${board.backends.join(", ")}. ` +
      "Each cell: the mean over seeds ± the seed-level 95% CI (Student's t); Δ: the arm minus uniform with the same algorithm, paired per seed.",
    "",
    `| arm | mean ${unit} | Δ mean | CVaR 10% | Δ CVaR |${grouped ? " worst group | Δ worst group |" : ""} seeds better than uniform |`,
    `| --- | --- | --- | --- | --- |${grouped ? " --- | --- |" : ""} --- |`,
  ];
  for (const arm of Object.values(board.arms)) {
    const at = `${base}.arms.${arm.arm}`;
    const versus = arm.versusUniform;
    const cells = [
      `\`${arm.arm}\``,
      marker(`${at}.mean`, value),
      versus ? marker(`${at}.versusUniform.mean`, difference) : "—",
      marker(`${at}.cvar`, value),
      versus ? marker(`${at}.versusUniform.cvar`, difference) : "—",
      ...(grouped ? [marker(`${at}.worstGroup`, value), versus?.worstGroup ? marker(`${at}.versusUniform.worstGroup`, difference) : "—"] : []),
      versus ? `${marker(`${at}.versusUniform.seedsBetter`, "int")} of ${board.seeds.length}` : "—",
    ];
    lines.push(`| ${cells.join(" | ")} |`);
  }
  lines.push("", "Verdicts:", "");
  for (const [algorithm, verdicts] of Object.entries(board.verdicts)) {
    for (const criterion of Object.keys(verdicts)) lines.push(`- ${marker(`${base}.verdicts.${algorithm}.${criterion}.sentence`, "text")}`);
  }
  lines.push(
    "",
    `The smallest difference of means this design resolves (median seed-level CI half-width of the paired Δ): ` +
      Object.keys(board.resolvableEffect)
        .map((algorithm) => `${algorithm} ${marker(`${base}.resolvableEffect.${algorithm}`, accuracy ? "pct2" : "fixed3")}${accuracy ? " points" : ""}`)
        .join(", ") +
      ".",
    "",
  );
  return lines.join("\n");
}

/** Replaces the generated block of `document` (between TABLES_BEGIN and TABLES_END) with `tables`. */
export function replaceTables(document: string, tables: string): string {
  const begin = document.indexOf(TABLES_BEGIN);
  const end = document.indexOf(TABLES_END);
  if (begin < 0 || end < begin) throw new Error(`expected ${TABLES_BEGIN} … ${TABLES_END} in the document`);
  return `${document.slice(0, begin + TABLES_BEGIN.length)}\n${tables}\n${document.slice(end)}`;
}
