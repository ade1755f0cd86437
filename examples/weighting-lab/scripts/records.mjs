// Reads the lab's committed run records into boards (shared by write-leaderboard.mjs and the test).
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { checkRunRecord, presetBoard } from "../dist/index.js";

/** The presets of the leaderboard, in the order docs/WEIGHTING.md shows them. */
export const LABORATORY_PRESETS = ["sinusoid-imbalanced", "sinusoid-outliers", "omniglot-5w1s-alphabets", "omniglot-5w5s-label-noise"];

/** Every record of one preset (results/<preset>/<arm>/seed-<s>.json), checked. */
export function loadRecords(resultsDir, preset) {
  const dir = join(resultsDir, preset);
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { withFileTypes: true })
    .filter((entry) => entry.isDirectory())
    .flatMap((arm) =>
      readdirSync(join(dir, arm.name))
        .filter((name) => /^seed-\d+\.json$/.test(name))
        .map((name) => {
          const path = join(dir, arm.name, name);
          return checkRunRecord(JSON.parse(readFileSync(path, "utf8")), path);
        }),
    );
}

/** The boards of the presets that have records, in LABORATORY_PRESETS order. */
export function loadBoards(resultsDir, presets) {
  return presets.map((preset) => loadRecords(resultsDir, preset)).filter((records) => records.length > 0).map((records) => presetBoard(records));
}
