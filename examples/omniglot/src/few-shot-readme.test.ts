// The README's few-shot table is the committed evaluation records, rendered (scripts/few-shot-table.mjs).
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
// @ts-expect-error: a plain .mjs script without type declarations
import { renderTable, withTable } from "../scripts/few-shot-table.mjs";

describe("examples/omniglot README: few-shot table", () => {
  it("equals the table rendered from results/protonet/few-shot-*.json", () => {
    const readme = readFileSync(fileURLToPath(new URL("../README.md", import.meta.url)), "utf8");
    expect(withTable(readme, renderTable())).toBe(readme);
  });
});
