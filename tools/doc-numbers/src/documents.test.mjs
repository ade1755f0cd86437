// The repository's documents agree with their committed records (issue 19 §5).
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { checkDocuments } from "./document.mjs";
import { parseExpression, recordFiles } from "./expression.mjs";
import { DOCUMENTS, REPOSITORY_ROOT } from "./documents.mjs";
import { findMarkers } from "./markers.mjs";

describe("the repository's documents", () => {
  it("say what their records say", () => {
    const { markers, mismatches } = checkDocuments(REPOSITORY_ROOT, DOCUMENTS);
    const report = mismatches.map((m) => `${m.document}:${m.line}: says ${m.written}, its record gives ${m.rendered} (${m.expression}); run pnpm docs:numbers`);
    expect(report).toEqual([]);
    // Not vacuous: the two result documents carry their tied numbers (233 when they were tied).
    expect(markers).toBeGreaterThanOrEqual(200);
  });

  it("take their numbers only from records tracked by git", () => {
    const tracked = new Set(execFileSync("git", ["ls-files", "-z"], { cwd: REPOSITORY_ROOT, encoding: "utf8" }).split("\0"));
    const records = new Set();
    for (const document of DOCUMENTS) {
      const { markers, aliases } = findMarkers(readFileSync(join(REPOSITORY_ROOT, document), "utf8"));
      for (const { expression } of markers) {
        for (const file of recordFiles(parseExpression(expression), aliases)) records.add(file);
      }
    }
    expect(records.size).toBeGreaterThan(10);
    const untracked = [...records].filter((file) => !tracked.has(file));
    expect(untracked).toEqual([]);
  });
});
