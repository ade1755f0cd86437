import { armIterations, bestStep, everyArmHasAccuracy, finalAccuracy, finalStep, formatDuration, formatMeanCi } from "../format.js";
import { hasDiagnostic, lateMean } from "../series.js";
import type { ReportData } from "../types.js";

export interface RenderedChart {
  readonly id: string;
  readonly title: string;
  readonly caption: string;
  readonly svg: string;
  /** File name of the standalone SVG beside report.html. */
  readonly file: string;
}

const STYLE = `
:root { color-scheme: light; }
* { box-sizing: border-box; }
body { margin: 0; background: #f5f6f8; color: #1f2328; font: 15px/1.55 "Helvetica Neue", Helvetica, Arial, sans-serif; }
main { max-width: 1020px; margin: 0 auto; padding: 32px 28px 48px; }
header h1 { font-size: 26px; margin: 0 0 4px; letter-spacing: -0.01em; }
header .meta { color: #59636e; font-size: 13.5px; margin: 0; }
h2 { font-size: 18px; margin: 0 0 10px; }
section { background: #fff; border: 1px solid #e1e4e8; border-radius: 10px; padding: 20px 24px; margin-top: 20px; }
p { margin: 0 0 10px; }
table { border-collapse: collapse; width: 100%; font-size: 13.5px; font-variant-numeric: tabular-nums; }
.table { overflow-x: auto; }
th, td { text-align: left; padding: 7px 10px; border-bottom: 1px solid #eaecef; white-space: nowrap; }
th { color: #59636e; font-weight: 600; font-size: 12px; text-transform: uppercase; letter-spacing: 0.03em; }
td.num, th.num { text-align: right; }
tr.best td { background: #f0f7ff; }
tr.best td:first-child { font-weight: 600; }
.swatch { display: inline-block; width: 18px; height: 0; border-top: 3px solid; margin-right: 8px; vertical-align: middle; }
.swatch.dashed { border-top-style: dashed; }
figure { margin: 0; }
figure .chart { overflow-x: auto; }
figure svg { max-width: 100%; height: auto; display: block; }
figcaption { color: #59636e; font-size: 13px; margin-top: 8px; }
nav { margin-top: 14px; font-size: 13.5px; }
nav a { color: #0b5cad; text-decoration: none; margin-right: 14px; }
details summary { cursor: pointer; color: #0b5cad; }
pre { background: #f6f8fa; border-radius: 6px; padding: 12px; font-size: 12px; overflow-x: auto; }
.note { color: #59636e; font-size: 13px; }
footer { color: #8c959f; font-size: 12px; margin-top: 24px; text-align: center; }
`;

/** The self-contained report page: inline CSS and SVG only, no scripts, no external references. */
export function reportHtml(data: ReportData, charts: readonly RenderedChart[], armColors: ReadonlyMap<string, { color: string; dashed: boolean }>): string {
  const seeds = [...new Set(data.arms.flatMap((arm) => arm.seeds))];
  const steps = Math.max(0, ...data.arms.map((arm) => arm.evaluation.loss.length - 1));
  const tasksPerSeed = data.arms[0] ? Math.round(data.arms[0].evaluation.taskCount / Math.max(1, data.arms[0].seeds.length)) : 0;
  const finals = data.arms.map((arm) => finalStep(arm)?.mean ?? Number.POSITIVE_INFINITY);
  const bestIndex = finals.indexOf(Math.min(...finals));
  // Diagnostics columns only when some arm recorded them (metrics files from before them lack both).
  const diagnostics = (["effectiveTasks", "weightedCosine"] as const).filter((field) => data.arms.some((arm) => hasDiagnostic(arm.curves, field)));
  // Classification arms: the accuracy after the last step beside its loss.
  const withAccuracy = everyArmHasAccuracy(data.arms);
  const diagnosticCell = (value: number | undefined, digits: number) => `<td class="num">${value === undefined ? "n/a" : value.toFixed(digits)}</td>`;

  const rows = data.arms
    .map((arm, index) => {
      const start = arm.evaluation.loss[0];
      const last = finalStep(arm);
      const best = bestStep(arm.evaluation.loss);
      const style = armColors.get(arm.name);
      const swatch = style ? `<span class="swatch${style.dashed ? " dashed" : ""}" style="border-top-color:${escapeHtml(style.color)}"></span>` : "";
      return `<tr${index === bestIndex && data.arms.length > 1 ? ' class="best"' : ""}>
<td title="${escapeHtml(`${arm.algorithm} with ${arm.weighting} weighting`)}">${swatch}${escapeHtml(arm.name)}</td>
<td class="num">${start ? formatMeanCi(start.mean, start.ci95) : "n/a"}</td>
<td class="num">${last ? formatMeanCi(last.mean, last.ci95) : "n/a"}</td>
${withAccuracy ? `<td class="num">${escapeHtml(finalAccuracy(arm) ?? "n/a")}</td>\n` : ""}<td class="num">${best ? `${formatMeanCi(best.mean, best.ci95)} @ ${best.step}` : "n/a"}</td>
<td class="num">${escapeHtml(String(armIterations(arm) ?? "n/a"))}</td>
${diagnostics.map((field) => diagnosticCell(lateMean(arm.curves, field), field === "effectiveTasks" ? 2 : 3)).join("")}
<td class="num">${escapeHtml(formatDuration(arm.wallTimeSeconds))}</td>
<td>${escapeHtml(arm.evaluation.backend)}</td></tr>`;
    })
    .join("\n");

  const figures = charts
    .map(
      (chart) => `<section id="${escapeHtml(chart.id)}">
<h2>${escapeHtml(chart.title)}</h2>
<figure><div class="chart">${chart.svg}</div>
<figcaption>${escapeHtml(chart.caption)} Also saved as <code>${escapeHtml(chart.file)}</code>.</figcaption></figure>
</section>`,
    )
    .join("\n");
  const missing = data.arms.every((arm) => arm.weighting === "uniform")
    ? `<p class="note">No arm uses a non-uniform weighting, so there is no task-weight chart.</p>`
    : "";

  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(data.title)}</title>
<style>${STYLE}</style>
</head>
<body>
<main>
<header>
<h1>${escapeHtml(data.title)}</h1>
<p class="meta">Preset <strong>${escapeHtml(data.preset)}</strong> · backend ${escapeHtml(data.backend)} · ${escapeHtml(formatDate(data.createdAt))}</p>
<nav>${charts.map((chart) => `<a href="#${escapeHtml(chart.id)}">${escapeHtml(chart.title)}</a>`).join("")}<a href="#config">Configuration</a></nav>
</header>
<section id="setup">
<h2>Setup</h2>
<p>${data.arms.length} arm${data.arms.length === 1 ? "" : "s"} (${data.arms.map((arm) => escapeHtml(arm.name)).join(", ")}) meta-trained for
${data.iterations} iterations with ${data.metaBatchSize} tasks per meta-batch, on seed${seeds.length === 1 ? "" : "s"} ${escapeHtml(seeds.join(", "))}.
Arms that share a seed start from the same initial parameters and see the same stream of training tasks; only the algorithm and the task weighting differ.</p>
<p>Evaluation: ${tasksPerSeed} held-out tasks per seed, drawn from a fixed evaluation stream (the same tasks for every arm), pooled over seeds;
the model adapts on each task's support set for 0…${steps} inner steps and is scored on its query set.
Intervals are 95% confidence intervals 1.96·s/√n, with s the sample standard deviation (n − 1) over the n pooled tasks.</p>
</section>
<section id="results">
<h2>Results</h2>
<div class="table"><table>
<thead><tr><th>arm</th><th class="num">loss, no adaptation</th><th class="num">loss after ${steps} step${steps === 1 ? "" : "s"}</th>${withAccuracy ? `<th class="num">accuracy after ${steps} step${steps === 1 ? "" : "s"}</th>` : ""}<th class="num">best step</th><th class="num">iterations</th>${diagnostics.map((field) => `<th class="num">${field === "effectiveTasks" ? "effective tasks" : "cosine to uniform"}</th>`).join("")}<th class="num">wall time</th><th>backend</th></tr></thead>
<tbody>
${rows}
</tbody>
</table></div>
<p class="note" style="margin-top:10px">Held-out query loss, mean ± 95% CI (lower is better). The highlighted row has the lowest loss after ${steps} step${steps === 1 ? "" : "s"}; overlapping intervals mean the difference is not resolved at this budget.${
    diagnostics.length > 0
      ? ` ${diagnostics.map((field) => (field === "effectiveTasks" ? `Effective tasks (Σ|w_i|)² / Σw_i² (${data.metaBatchSize} for uniform weights)` : "the cosine between the weighted and the uniform meta-gradient (1 for uniform weights)")).join(" and ")}: mean over the last 10% of training iterations, pooled over seeds.`
      : ""
  }</p>
${missing}
</section>
${figures}
<section id="config">
<h2>Configuration</h2>
<details><summary>Resolved configuration (JSON)</summary>
<pre>${escapeHtml(JSON.stringify(data.config, null, 2) ?? "null")}</pre>
</details>
</section>
<footer>Generated by Concord · charts made with Vega-Lite · this page needs no network access</footer>
</main>
</body>
</html>
`;
}

export function escapeHtml(text: string): string {
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;").replace(/'/g, "&#39;");
}

function formatDate(iso: string): string {
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? iso : `${date.toISOString().slice(0, 16).replace("T", " ")} UTC`;
}
