import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { leaderboardFile } from "./leaderboard-file.js";
// @ts-expect-error: a plain .mjs script shared with the command line (no type declarations)
import { LABORATORY_PRESETS, loadBoards } from "../scripts/records.mjs";

const lab = join(dirname(fileURLToPath(import.meta.url)), "..");
const committed = join(lab, "results", "leaderboard.json");

describe("the committed leaderboard", () => {
  it("exists, and equals the leaderboard recomputed from the committed run records", () => {
    expect(existsSync(committed), `${committed} is missing: run scripts/write-leaderboard.mjs`).toBe(true);
    const saved = JSON.parse(readFileSync(committed, "utf8"));
    const recomputed = JSON.parse(JSON.stringify(leaderboardFile(loadBoards(join(lab, "results"), LABORATORY_PRESETS), saved.records)));
    expect(Object.keys(recomputed.boards)).toEqual(Object.keys(saved.boards));
    expect(recomputed).toEqual(saved);
  });
});
