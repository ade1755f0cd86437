import { randomBytes } from "node:crypto";
import { mkdir, open, rename, rm } from "node:fs/promises";
import { join, resolve } from "node:path";
import { ConcordError, expect } from "@concord/core";
import { armStyles, reportCharts } from "../charts.js";
import { type RenderedChart, reportHtml } from "./html.js";
import { renderSvg } from "./render.js";
import type { ReportData } from "../types.js";

export interface WrittenReport {
  readonly htmlPath: string;
  /** Absolute paths of the standalone SVG charts. */
  readonly images: string[];
}

/**
 * Renders the report charts (Vega-Lite → Vega → SVG) and writes `report.html` (self-contained:
 * inline CSS and SVG, no scripts, no external references) plus one SVG per chart into `outDir`.
 * Every file is written to a temporary name, flushed and renamed, and only once all of them were
 * written; on failure the temporary files are removed and a ConcordError names the folder.
 */
export async function writeReport(outDir: string, data: ReportData): Promise<WrittenReport> {
  expect(typeof outDir === "string" && outDir.length > 0, "outDir", `expected a folder path, got ${JSON.stringify(outDir)}`);
  expect(data !== null && typeof data === "object" && Array.isArray(data.arms) && data.arms.length > 0, "data.arms", "expected at least one arm to report");
  const folder = resolve(outDir);

  const charts: RenderedChart[] = [];
  for (const chart of reportCharts(data)) {
    charts.push({ id: chart.id, title: chart.title, caption: chart.caption, file: `${chart.id}.svg`, svg: await renderSvg(chart.spec, chart.id) });
  }
  const styles = armStyles(data.arms);
  const armColors = new Map(styles.names.map((name, i) => [name, { color: styles.colors[i]!, dashed: styles.dashes[i]![0] !== 1 }]));
  const files = [
    ...charts.map((chart) => ({ path: join(folder, chart.file), text: `<?xml version="1.0" encoding="UTF-8"?>\n${chart.svg}\n` })),
    // The page last, so it never appears before its images.
    { path: join(folder, "report.html"), text: reportHtml(data, charts, armColors) },
  ];
  await writeAllAtomically(folder, files);
  return { htmlPath: join(folder, "report.html"), images: charts.map((chart) => join(folder, chart.file)) };
}

async function writeAllAtomically(folder: string, files: readonly { path: string; text: string }[]): Promise<void> {
  try {
    await mkdir(folder, { recursive: true });
  } catch (error) {
    throw new ConcordError(`cannot create the report folder ${folder}: ${(error as Error).message}`, { field: "outDir", cause: error });
  }
  const suffix = `.tmp-${process.pid}-${randomBytes(4).toString("hex")}`;
  const temporary: string[] = [];
  try {
    for (const file of files) {
      const temp = `${file.path}${suffix}`;
      temporary.push(temp);
      const handle = await open(temp, "w");
      try {
        await handle.writeFile(file.text, "utf8");
        await handle.sync();
      } finally {
        await handle.close();
      }
    }
    for (const [index, file] of files.entries()) await rename(temporary[index]!, file.path);
  } catch (error) {
    await Promise.all(temporary.map((temp) => rm(temp, { force: true })));
    throw new ConcordError(`cannot write the report into ${folder}: ${(error as Error).message}`, { field: "outDir", cause: error });
  }
}
