import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ConcordError } from "@concord/core";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { checkDocuments, writeDocuments } from "./document.mjs";
import { findMarkers } from "./markers.mjs";

let root;
const record = (accuracy) =>
  JSON.stringify({
    accuracy: [
      { step: 0, mean: 0.2, ci95: 0 },
      { step: 1, mean: accuracy, ci95: 0.0066449 },
    ],
  });
const DOC = [
  "# Results",
  "<!-- n-alias R=runs/uniform -->",
  "",
  "| arm | accuracy |",
  "| --- | --- |",
  "| uniform | <!-- n:@R/evaluation.json#accuracy[1] | pct2 ci -->96.87 ± 0.66<!-- /n --> % |",
  "",
  "Uniform reaches <!-- n:runs/uniform/evaluation.json#accuracy[1].mean | pct2 -->96.87<!-- /n --> %.",
  "",
  "```md",
  "<!-- n:not/a/record.json#x | pct2 -->1<!-- /n --> is an example in a code block",
  "```",
  "An alias is written `<!-- n-alias NAME=FOLDER -->` and a marker `<!-- n:FILE#PATH | pct2 -->1<!-- /n -->`.",
  "",
].join("\n");

beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), "doc-numbers-"));
  mkdirSync(join(root, "runs", "uniform"), { recursive: true });
  writeFileSync(join(root, "runs", "uniform", "evaluation.json"), record(0.9686666685342789));
  writeFileSync(join(root, "doc.md"), DOC);
});
afterEach(() => rmSync(root, { recursive: true, force: true }));

describe("a document tied to its record", () => {
  it("passes the check while they agree", () => {
    expect(checkDocuments(root, ["doc.md"])).toEqual({ markers: 2, mismatches: [] });
  });

  it("fails the check, naming document, line and both values, once the record changes", () => {
    writeFileSync(join(root, "runs", "uniform", "evaluation.json"), record(0.9713));
    const { mismatches } = checkDocuments(root, ["doc.md"]);
    expect(mismatches).toEqual([
      { document: "doc.md", line: 6, expression: "@R/evaluation.json#accuracy[1]", written: "96.87 ± 0.66", rendered: "97.13 ± 0.66" },
      { document: "doc.md", line: 8, expression: "runs/uniform/evaluation.json#accuracy[1].mean", written: "96.87", rendered: "97.13" },
    ]);
  });

  it("--write rewrites only the numbers, and the check passes again", () => {
    writeFileSync(join(root, "runs", "uniform", "evaluation.json"), record(0.9713));
    expect(writeDocuments(root, ["doc.md"])).toEqual(["doc.md"]);
    expect(readFileSync(join(root, "doc.md"), "utf8")).toBe(DOC.replace("96.87 ± 0.66", "97.13 ± 0.66").replace("-->96.87<", "-->97.13<"));
    expect(checkDocuments(root, ["doc.md"]).mismatches).toEqual([]);
    expect(writeDocuments(root, ["doc.md"])).toEqual([]);
    expect(readdirSync(root).sort()).toEqual(["doc.md", "runs"]);
  });

  it("a missing record is a ConcordError naming the document, the line and the record", () => {
    rmSync(join(root, "runs", "uniform", "evaluation.json"));
    const error = catchError(() => checkDocuments(root, ["doc.md"]));
    expect(error).toBeInstanceOf(ConcordError);
    expect(error.field).toBe("doc.md");
    expect(error.message).toContain(
      "doc.md:6: <!-- n:@R/evaluation.json#accuracy[1] | pct2 ci -->: record runs/uniform/evaluation.json cannot be read (ENOENT)",
    );
    expect(error.message).toContain("doc.md:8:");
  });

  it("a missing path is a ConcordError naming the line, the record and the step", () => {
    writeFileSync(join(root, "doc.md"), DOC.replace("accuracy[1].mean", "accuracy[3].mean"));
    const error = catchError(() => checkDocuments(root, ["doc.md"]));
    expect(error).toBeInstanceOf(ConcordError);
    expect(error.message).toContain(
      'doc.md:8: <!-- n:runs/uniform/evaluation.json#accuracy[3].mean | pct2 -->: record runs/uniform/evaluation.json: no "accuracy[3]"',
    );
  });

  it("--write with one broken marker changes no document", () => {
    writeFileSync(join(root, "runs", "uniform", "evaluation.json"), record(0.9713));
    writeFileSync(join(root, "other.md"), "x <!-- n:runs/uniform/evaluation.json#nothing | pct2 -->1<!-- /n -->\n");
    expect(() => writeDocuments(root, ["doc.md", "other.md"])).toThrow(ConcordError);
    expect(readFileSync(join(root, "doc.md"), "utf8")).toBe(DOC);
  });

  it("a missing document is a ConcordError naming it", () => {
    expect(() => checkDocuments(root, ["absent.md"])).toThrow(/absent\.md: document cannot be read \(ENOENT\)/);
  });
});

describe("marker syntax", () => {
  it("reports an unclosed marker, a marker without a format and a bad alias by line", () => {
    const { problems } = findMarkers(["<!-- n:a.json#x | pct2 -->1", "<!-- n:a.json#x -->1<!-- /n -->", "<!-- n-alias 9=x -->"].join("\n"));
    expect(problems.map((problem) => problem.line)).toEqual([1, 2, 3]);
    expect(problems[0].message).toMatch(/without its closing/);
    expect(problems[1].message).toMatch(/no "\| FORMAT"/);
    expect(problems[2].message).toMatch(/not NAME=FOLDER/);
  });
  it("skips markers and aliases inside fenced code blocks and inline code", () => {
    const { markers, aliases, problems } = findMarkers(DOC);
    expect(markers.map((marker) => marker.line)).toEqual([6, 8]);
    expect([...aliases.keys()]).toEqual(["R"]);
    expect(problems).toEqual([]);
  });
});

function catchError(run) {
  try {
    run();
  } catch (error) {
    return error;
  }
  throw new Error("expected an error");
}
