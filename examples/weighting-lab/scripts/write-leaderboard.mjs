#!/usr/bin/env node
// Builds results/leaderboard.json from the committed run records (results/<preset>/<arm>/seed-<s>.json)
// and rewrites the generated tables of docs/WEIGHTING.md, whose numbers doc-numbers then fills in
// from leaderboard.json (`pnpm docs:numbers`). A test recomputes the leaderboard from the records.
//
//   node scripts/write-leaderboard.mjs [preset …]      (default: every preset folder under results/)
import { readFileSync, renameSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { leaderboardFile, renderTables, replaceTables } from "../dist/index.js";
import { LABORATORY_PRESETS, loadBoards } from "./records.mjs";

const lab = join(dirname(fileURLToPath(import.meta.url)), "..");
const repository = join(lab, "../..");
const presets = process.argv.length > 2 ? process.argv.slice(2) : LABORATORY_PRESETS;
const file = leaderboardFile(loadBoards(join(lab, "results"), presets), "examples/weighting-lab/results/<preset>/<arm>/seed-<seed>.json");

const atomically = (path, text) => {
  writeFileSync(`${path}.tmp`, text);
  renameSync(`${path}.tmp`, path);
};
atomically(join(lab, "results", "leaderboard.json"), `${JSON.stringify(file, null, 1)}\n`);
const docPath = join(repository, "docs", "WEIGHTING.md");
atomically(docPath, replaceTables(readFileSync(docPath, "utf8"), renderTables(file, "examples/weighting-lab/results/leaderboard.json")));
console.log(`leaderboard of ${Object.keys(file.boards).join(", ")} written; now run: npx pnpm docs:numbers`);
