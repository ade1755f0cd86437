import { mkdtempSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ConcordError } from "@concord/core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { sampleReportData } from "../testing/report-fixtures.js";
import { formatMeanCi } from "../format.js";
import type { ReportData } from "../types.js";
import { writeReport } from "./write-report.js";

const VOID_ELEMENTS = new Set(["meta", "br", "hr", "img", "input", "link"]);

/** Checks that every tag is closed in order (XML well-formedness for SVG; HTML with void elements). */
function unbalancedTags(text: string, html: boolean): string[] {
  const problems: string[] = [];
  const stack: string[] = [];
  const body = text
    .replace(/<\?xml[^>]*\?>/, "")
    .replace(/<!DOCTYPE[^>]*>/i, "")
    .replace(/<!--[\s\S]*?-->/g, "");
  for (const match of body.matchAll(/<(\/?)([A-Za-z][\w:-]*)((?:[^>"']|"[^"]*"|'[^']*')*?)(\/?)>/g)) {
    const [, closing, name, , selfClosing] = match;
    const tag = html ? name!.toLowerCase() : name!;
    if (selfClosing || (html && VOID_ELEMENTS.has(tag))) continue;
    if (!closing) stack.push(tag);
    else if (stack.pop() !== tag) problems.push(`unexpected </${tag}>`);
  }
  if (stack.length > 0) problems.push(`unclosed ${stack.join(", ")}`);
  return problems;
}

function externalReferences(text: string): string[] {
  return [...text.matchAll(/(?:\b(?:src|href)\s*=\s*["']?\s*|url\(\s*["']?)(?:https?:)?\/\/[^"')\s>]*/gi)].map((match) => match[0]);
}

describe("writeReport", () => {
  let root: string;
  let data: ReportData;
  let written: Awaited<ReturnType<typeof writeReport>>;
  let html: string;

  beforeAll(async () => {
    root = mkdtempSync(join(tmpdir(), "concord-report-"));
    data = sampleReportData({ iterations: 120, tasks: 30 });
    written = await writeReport(join(root, "nested", "out"), data);
    html = readFileSync(written.htmlPath, "utf8");
  });
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  it("writes report.html and one SVG per chart, and nothing else", () => {
    const folder = join(root, "nested", "out");
    expect(written.htmlPath).toBe(join(folder, "report.html"));
    expect(written.images.map((path) => path.slice(folder.length + 1))).toEqual([
      "learning-curves.svg",
      "inner-steps.svg",
      "sinusoid-fits.svg",
      "task-weights.svg",
      "diagnostics.svg",
    ]);
    expect(readdirSync(folder).sort()).toEqual([
      "diagnostics.svg",
      "inner-steps.svg",
      "learning-curves.svg",
      "report.html",
      "sinusoid-fits.svg",
      "task-weights.svg",
    ]);
  });

  it("every SVG file is a complete, well-formed SVG made by Vega", () => {
    for (const path of written.images) {
      const svg = readFileSync(path, "utf8");
      expect(svg.startsWith('<?xml version="1.0" encoding="UTF-8"?>\n<svg')).toBe(true);
      expect(svg.trimEnd().endsWith("</svg>")).toBe(true);
      expect(svg).toContain('class="marks"'); // Vega's scenegraph root, not a hand-drawn SVG
      expect(unbalancedTags(svg, false)).toEqual([]);
    }
  });

  it("the HTML is complete, inlines every chart and the results table, and names the setup", () => {
    expect(html.startsWith("<!DOCTYPE html>")).toBe(true);
    expect(html.trimEnd().endsWith("</html>")).toBe(true);
    expect(unbalancedTags(html, true)).toEqual([]);
    for (const path of written.images) {
      const svg = readFileSync(path, "utf8")
        .replace(/^<\?xml[^>]*\?>\n/, "")
        .trimEnd();
      expect(html).toContain(svg);
    }
    expect(html.match(/<svg\b/g)).toHaveLength(5);
    for (const id of ["learning-curves", "inner-steps", "sinusoid-fits", "task-weights", "diagnostics", "results", "setup", "config"])
      expect(html).toContain(`id="${id}"`);
    for (const arm of data.arms) expect(html).toContain(`${arm.name}</td>`);
    for (const arm of data.arms) {
      const last = arm.evaluation.loss[10]!;
      expect(html).toContain(`<td class="num">${formatMeanCi(last.mean, last.ci95)}</td>`);
    }
    expect(html).toContain("120 iterations with 10 tasks per meta-batch, on seeds 1, 2");
    expect(html).toContain("sample standard deviation (n − 1)");
  });

  it("opens offline: no scripts, no external src/href/url() references, CSS inline", () => {
    expect(externalReferences(html)).toEqual([]);
    expect(html).not.toMatch(/<script/i);
    expect(html).not.toMatch(/<link\b/i);
    expect(html).toMatch(/<style>[\s\S]+<\/style>/);
    for (const path of written.images) expect(externalReferences(readFileSync(path, "utf8"))).toEqual([]);
  });

  it("escapes text from the data (the config holds a <script> tag)", () => {
    expect(html).toContain("&lt;script&gt;alert(1)&lt;/script&gt;");
  });

  it("gives element ids unique across the inlined charts (clip paths do not collide)", () => {
    const ids = [...html.matchAll(/\bid="([^"]+)"/g)].map((match) => match[1]);
    expect(new Set(ids).size).toBe(ids.length);
    for (const match of html.matchAll(/url\(#([^)]+)\)/g)) expect(ids).toContain(match[1]);
  });

  it("leaves out the weight chart when every arm weights uniformly, and says so", async () => {
    const uniformOnly = { ...data, arms: data.arms.filter((arm) => arm.weighting === "uniform") };
    const out = join(root, "uniform");
    const result = await writeReport(out, uniformOnly);
    expect(result.images.map((path) => path.slice(out.length + 1))).toEqual(["learning-curves.svg", "inner-steps.svg", "sinusoid-fits.svg", "diagnostics.svg"]);
    expect(readFileSync(result.htmlPath, "utf8")).toContain("No arm uses a non-uniform weighting");
  });

  it("renders a task family's panel as given: id from its title, the report's style under its own config", async () => {
    const out = join(root, "panels");
    const panel = {
      title: "Query points (my family)",
      caption: "One dot per query point.",
      spec: {
        mark: "point",
        data: { values: [{ x: 1, y: 2 }] },
        encoding: { x: { field: "x", type: "quantitative" }, y: { field: "y", type: "quantitative" } },
      },
    };
    const result = await writeReport(out, { ...data, panels: [panel, { ...panel, spec: { ...panel.spec, config: { background: "#fafafa" } } }] });
    expect(result.images.map((path) => path.slice(out.length + 1))).toEqual([
      "learning-curves.svg",
      "inner-steps.svg",
      "query-points-my-family.svg",
      "query-points-my-family-2.svg",
      "task-weights.svg",
      "diagnostics.svg",
    ]);
    const page = readFileSync(result.htmlPath, "utf8");
    expect(page).toContain('id="query-points-my-family"');
    expect(page).toContain("One dot per query point.");
    expect(readFileSync(join(out, "query-points-my-family.svg"), "utf8")).toContain('fill="white"');
    expect(readFileSync(join(out, "query-points-my-family-2.svg"), "utf8")).toContain('fill="#fafafa"');
  });

  it("an out dir that cannot be created gives a ConcordError naming the folder, and writes nothing", async () => {
    const blocker = join(root, "a-file");
    writeFileSync(blocker, "not a folder");
    const target = join(blocker, "report");
    const error = await writeReport(target, data).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(ConcordError);
    expect((error as ConcordError).field).toBe("outDir");
    expect((error as Error).message).toContain(target);
    expect(readFileSync(blocker, "utf8")).toBe("not a folder");
  });

  it("a write that fails midway leaves no temporary or partial file behind", async () => {
    const out = join(root, "blocked");
    mkdirSync(join(out, "report.html", "occupied"), { recursive: true }); // report.html cannot be replaced
    const error = await writeReport(out, data).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(ConcordError);
    expect((error as Error).message).toContain(out);
    expect(readdirSync(out).filter((name) => name.includes(".tmp-"))).toEqual([]);
    for (const name of readdirSync(out).filter((name) => name.endsWith(".svg"))) {
      expect(readFileSync(join(out, name), "utf8").trimEnd().endsWith("</svg>")).toBe(true);
    }
  });

  it("summarises the diagnostics per arm: effective tasks and cosine to uniform over the last 10% of training", () => {
    expect(html).toContain('<th class="num">effective tasks</th><th class="num">cosine to uniform</th>');
    // Uniform arms record exactly N = 10 effective tasks and cosine 1; the agreement arms less of both.
    const row = (name: string) => html.slice(html.indexOf(`${name}</td>`), html.indexOf("</tr>", html.indexOf(`${name}</td>`)));
    expect(row("maml-uniform")).toContain('<td class="num">10.00</td><td class="num">1.000</td>');
    const [effective, cosine] = [...row("maml-agreement").matchAll(/<td class="num">([\d.]+)<\/td>/g)].map((m) => Number(m[1])).slice(-2);
    expect(effective).toBeGreaterThan(5.5);
    expect(effective).toBeLessThan(6.5);
    expect(cosine).toBeGreaterThan(0.8);
    expect(cosine).toBeLessThan(0.9);
  });

  it("a run from before the diagnostics (no curve point has them) gets neither the chart nor the columns", async () => {
    const out = join(root, "old-metrics");
    const result = await writeReport(out, sampleReportData({ iterations: 60, tasks: 10, diagnostics: false }));
    expect(result.images.map((path) => path.slice(out.length + 1))).not.toContain("diagnostics.svg");
    const page = readFileSync(result.htmlPath, "utf8");
    expect(page).not.toContain("effective tasks");
    expect(page).not.toContain('id="diagnostics"');
  });

  it("classification arms get the accuracy after the last step beside its loss; regression arms do not", async () => {
    expect(html).not.toContain("accuracy after");
    const classified: ReportData = {
      ...data,
      arms: data.arms.map((arm, index) => ({
        ...arm,
        evaluation: { ...arm.evaluation, accuracy: arm.evaluation.loss.map(({ step }) => ({ step, mean: 0.2 + 0.07 * step + 0.001 * index, ci95: 0.0066 })) },
      })),
    };
    const page = readFileSync((await writeReport(join(root, "classified"), classified)).htmlPath, "utf8");
    expect(page).toContain('<th class="num">accuracy after 10 steps</th>');
    // Step 10: 0.2 + 0.7 = 90.00 % for the first arm, 90.10 % for the second.
    expect(page).toContain('<td class="num">90.00 ± 0.66 %</td>');
    expect(page).toContain('<td class="num">90.10 ± 0.66 %</td>');
    expect(unbalancedTags(page, true)).toEqual([]);
  });

  it("refuses a report without arms", async () => {
    await expect(writeReport(join(root, "empty"), { ...data, arms: [] })).rejects.toThrow(/^data\.arms: /);
  });
});
