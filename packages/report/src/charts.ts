// Vega-Lite specifications of the report's charts, built from ReportData (pure functions).
import type { TopLevelSpec } from "vega-lite";
import type { ReportPanel } from "@concord/core";
import { binWeights, type DiagnosticField, diagnosticSeries, hasDiagnostic, movingAverage, smoothingWindow, thinIndices, weightsAreUniform } from "./series.js";
import type { ReportArm, ReportData } from "./types.js";

export interface ChartSpec {
  /** File name stem and HTML anchor, e.g. "learning-curves". */
  readonly id: string;
  readonly title: string;
  readonly caption: string;
  readonly spec: TopLevelSpec;
}

/** Shades per algorithm: [non-uniform weighting, uniform weighting, a third arm of the same algorithm]. */
const FAMILIES: readonly (readonly [string, string, string])[] = [
  ["#1d4f91", "#7fa9dc", "#3b7dd8"],
  ["#c2410c", "#f4a261", "#e76f51"],
  ["#2d6a4f", "#8fcf9f", "#52b788"],
  ["#6a3d9a", "#c3a6e0", "#9b6fcf"],
  ["#7f5539", "#d4a373", "#b07d56"],
];

/** Stable colours and dashes per arm: one hue per algorithm, dark/solid for weighted arms, light/dashed for uniform. */
export function armStyles(arms: readonly ArmIdentity[]): { names: string[]; colors: string[]; dashes: number[][] } {
  const algorithms = [...new Set(arms.map((arm) => arm.algorithm))];
  const used = new Map<string, number>();
  const colors = arms.map((arm) => {
    const family = FAMILIES[algorithms.indexOf(arm.algorithm) % FAMILIES.length]!;
    if (isUniform(arm)) return family[1];
    const index = used.get(arm.algorithm) ?? 0;
    used.set(arm.algorithm, index + 1);
    return index === 0 ? family[0] : family[2];
  });
  return { names: arms.map((arm) => arm.name), colors, dashes: arms.map((arm) => (isUniform(arm) ? [6, 3] : [1, 0])) };
}

/** What an arm's colour and dash depend on. */
export type ArmIdentity = Pick<ReportArm, "name" | "algorithm" | "weighting">;

function isUniform(arm: ArmIdentity): boolean {
  return arm.weighting === "uniform";
}

const BASE_CONFIG = {
  font: "Helvetica Neue, Helvetica, Arial, sans-serif",
  background: "white",
  padding: 8,
  view: { stroke: null },
  axis: {
    labelFontSize: 11,
    titleFontSize: 12,
    titleFontWeight: 500,
    titleColor: "#333",
    labelColor: "#555",
    gridColor: "#ececec",
    domainColor: "#999",
    tickColor: "#999",
  },
  legend: { labelFontSize: 11, titleFontSize: 11, titleColor: "#333", labelColor: "#333", symbolStrokeWidth: 2.5, labelLimit: 220 },
  header: { labelFontSize: 12, labelFontWeight: 600, labelColor: "#333", titleFontSize: 12 },
  title: { fontSize: 13, fontWeight: 600, color: "#222", anchor: "start" },
} as const;

/** Colour by arm, styled over `all` arms (so colours match across charts) but listing only `shown`. */
function armColor(all: readonly ArmIdentity[], shown: readonly ArmIdentity[] = all) {
  const styles = armStyles(all);
  const keep = shown.map((arm) => styles.names.indexOf(arm.name));
  return {
    field: "arm",
    type: "nominal",
    title: "arm",
    scale: { domain: keep.map((i) => styles.names[i]!), range: keep.map((i) => styles.colors[i]!) },
    // Every layer keeps the legend (a null in one layer drops the shared legend); opacity 1 so faint layers do not fade it.
    legend: { orient: "right", symbolType: "stroke", symbolStrokeWidth: 2.5, symbolOpacity: 1 },
  } as const;
}

/** Dash by arm, styled over `all` arms but listing only `shown` (like armColor). */
function armDash(all: readonly ArmIdentity[], shown: readonly ArmIdentity[] = all) {
  const styles = armStyles(all);
  const keep = shown.map((arm) => styles.names.indexOf(arm.name));
  // Same field and title as the colour: Vega-Lite merges both into one legend showing colour and dash.
  return {
    field: "arm",
    type: "nominal",
    title: "arm",
    scale: { domain: keep.map((i) => styles.names[i]!), range: keep.map((i) => styles.dashes[i]!) },
  } as const;
}

/** (a) Query loss after adaptation on the training meta-batches vs iteration: smoothed, seeds faint, seed mean bold. */
export function learningCurveChart(data: ReportData): ChartSpec {
  const rows: Record<string, string | number>[] = [];
  let window = 1;
  for (const arm of data.arms) {
    const perSeed = arm.curves.map((curve) => {
      window = smoothingWindow(curve.length);
      return {
        iterations: curve.map((point) => point.iteration),
        values: movingAverage(
          curve.map((point) => point.queryLossAfter),
          window,
        ),
      };
    });
    perSeed.forEach(({ iterations, values }, seedIndex) => {
      for (const i of thinIndices(values.length, 250)) {
        rows.push({
          arm: arm.name,
          series: `${arm.name} / seed ${arm.seeds[seedIndex] ?? seedIndex}`,
          kind: "seed",
          iteration: iterations[i]!,
          loss: values[i]!,
        });
      }
    });
    // Mean over seeds at every iteration that all seeds reached.
    const sums = new Map<number, { sum: number; count: number }>();
    for (const { iterations, values } of perSeed) {
      iterations.forEach((iteration, i) => {
        const entry = sums.get(iteration) ?? { sum: 0, count: 0 };
        entry.sum += values[i]!;
        entry.count += 1;
        sums.set(iteration, entry);
      });
    }
    const mean = [...sums.entries()].filter(([, entry]) => entry.count === perSeed.length).sort(([a], [b]) => a - b);
    for (const i of thinIndices(mean.length, 400)) {
      const [iteration, entry] = mean[i]!;
      rows.push({ arm: arm.name, series: `${arm.name} / mean`, kind: "mean", iteration, loss: entry.sum / entry.count });
    }
  }
  const positive = rows.filter((row) => Number.isFinite(row.loss) && (row.loss as number) > 0);
  const seeds = Math.max(...data.arms.map((arm) => arm.curves.length), 0);
  const x = { field: "iteration", type: "quantitative", title: "meta-iteration", axis: { tickCount: 8 } } as const;
  const y = { field: "loss", type: "quantitative", title: "query loss after adaptation", scale: { type: "log" }, axis: { tickCount: 6 } } as const;
  return {
    id: "learning-curves",
    title: "Learning curves",
    caption:
      `Query loss of each training meta-batch after the inner-loop adaptation, against the meta-iteration (log scale). ` +
      `Centered moving average over ${window} iteration${window === 1 ? "" : "s"}; ` +
      (seeds > 1 ? `thin lines are the ${seeds} seeds, the bold line their mean.` : "one seed per arm."),
    spec: {
      config: BASE_CONFIG,
      width: 660,
      height: 300,
      data: { values: positive },
      layer: [
        {
          transform: [{ filter: "datum.kind === 'seed'" }],
          mark: { type: "line", strokeWidth: 1, opacity: seeds > 1 ? 0.28 : 0, clip: true },
          encoding: { x, y, color: armColor(data.arms), detail: { field: "series", type: "nominal" } },
        },
        {
          transform: [{ filter: "datum.kind === 'mean'" }],
          mark: { type: "line", strokeWidth: 2.2, clip: true },
          encoding: { x, y, color: armColor(data.arms), strokeDash: armDash(data.arms), detail: { field: "series", type: "nominal" } },
        },
      ],
    } as TopLevelSpec,
  };
}

/** One arm's held-out accuracy at each evaluated checkpoint. */
export interface CheckpointSeries extends ArmIdentity {
  /** Accuracy (a fraction) ± its 95% CI half-width over the held-out tasks, at each checkpoint's iteration. */
  readonly points: readonly { readonly iteration: number; readonly mean: number; readonly ci95: number }[];
}

/**
 * Held-out accuracy against the meta-iteration of the checkpoints it was evaluated at, mean and 95% CI
 * band per arm, with a published figure as a horizontal rule (e.g. the paper's accuracy at its budget).
 */
export function checkpointAccuracyChart(
  series: readonly CheckpointSeries[],
  options: { readonly taskCount: number; readonly innerSteps: number; readonly reference?: { readonly label: string; readonly accuracy: number } },
): ChartSpec {
  const rows = series.flatMap((arm) =>
    arm.points.map(({ iteration, mean, ci95 }) => ({ arm: arm.name, iteration, accuracy: mean, lower: mean - ci95, upper: Math.min(1, mean + ci95), ci95 })),
  );
  const values = rows.flatMap((row) => [row.lower, row.upper]).concat(options.reference ? [options.reference.accuracy] : []);
  // Zoom on the range the data spans (accuracies near 100% would be a flat line on [0, 1]).
  const domain = [Math.max(0, Math.floor(Math.min(...values) * 100 - 0.5) / 100), Math.min(1, Math.ceil(Math.max(...values) * 100 + 0.5) / 100)];
  const x = { field: "iteration", type: "quantitative", title: "meta-iteration (evaluated checkpoints)", axis: { tickCount: 8 } } as const;
  const y = { type: "quantitative", title: "held-out accuracy", axis: { format: ".0%" }, scale: { domain, zero: false } } as const;
  const layers: unknown[] = [
    { mark: { type: "area", opacity: 0.16 }, encoding: { x, y: { ...y, field: "lower" }, y2: { field: "upper" }, color: armColor(series) } },
    {
      mark: { type: "line", strokeWidth: 2, point: { filled: true, size: 40 } },
      encoding: {
        x,
        y: { ...y, field: "accuracy" },
        color: armColor(series),
        strokeDash: armDash(series),
        tooltip: [
          { field: "arm", type: "nominal" },
          { field: "iteration", type: "quantitative" },
          { field: "accuracy", type: "quantitative", format: ".2%" },
          { field: "ci95", type: "quantitative", format: ".2%" },
        ],
      },
    },
  ];
  if (options.reference) {
    const { label, accuracy } = options.reference;
    layers.push(
      { mark: { type: "rule", color: "#444", strokeDash: [2, 2] }, encoding: { y: { datum: accuracy, type: "quantitative" } } },
      {
        mark: { type: "text", align: "left", dx: 4, dy: -7, fontSize: 11, color: "#444" },
        encoding: { x: { datum: 0, type: "quantitative" }, y: { datum: accuracy, type: "quantitative" }, text: { value: label } },
      },
    );
  }
  return {
    id: "accuracy-curve",
    title: "Held-out accuracy against meta-iterations",
    caption:
      `Accuracy on the query images of ${options.taskCount} held-out tasks after ${options.innerSteps} inner steps, ` +
      `at each evaluated checkpoint (the same tasks for every arm and checkpoint). Bands: 95% confidence interval over the tasks.` +
      (options.reference ? ` Dashed rule: ${options.reference.label}.` : ""),
    spec: { config: BASE_CONFIG, width: 660, height: 300, data: { values: rows }, layer: layers } as TopLevelSpec,
  };
}

/** (b) Held-out query loss vs inner steps, mean and 95% CI band per arm. */
export function innerStepChart(data: ReportData): ChartSpec {
  const rows = data.arms.flatMap((arm) =>
    arm.evaluation.loss.map(({ step, mean, ci95 }) => {
      const spread = Number.isFinite(ci95) ? ci95 : 0;
      return { arm: arm.name, step, mean, lower: Math.max(mean - spread, mean * 1e-3), upper: mean + spread, ci95 };
    }),
  );
  const counts = [...new Set(data.arms.map((arm) => arm.evaluation.taskCount))];
  const x = {
    field: "step",
    type: "quantitative",
    title: "inner steps on the support set",
    axis: { tickMinStep: 1, format: "d" },
    scale: { nice: false },
  } as const;
  return {
    id: "inner-steps",
    title: "Held-out error against inner steps",
    caption:
      `Mean query loss on held-out tasks (the same tasks for every arm) after 0…S inner steps, log scale. ` +
      `Bands: 95% confidence interval 1.96·s/√n with n = ${counts.join(" / ")} tasks pooled over seeds.`,
    spec: {
      config: BASE_CONFIG,
      width: 660,
      height: 300,
      data: { values: rows },
      encoding: { x },
      layer: [
        {
          mark: { type: "area", opacity: 0.16 },
          encoding: { y: { field: "lower", type: "quantitative" }, y2: { field: "upper" }, color: armColor(data.arms) },
        },
        {
          mark: { type: "line", strokeWidth: 2, point: { filled: true, size: 36 } },
          encoding: {
            color: armColor(data.arms),
            y: { field: "mean", type: "quantitative", title: "held-out query loss", scale: { type: "log" } },
            strokeDash: armDash(data.arms),
            tooltip: [
              { field: "arm", type: "nominal" },
              { field: "step", type: "quantitative" },
              { field: "mean", type: "quantitative", format: ".4f" },
              { field: "ci95", type: "quantitative", format: ".4f" },
            ],
          },
        },
      ],
    } as TopLevelSpec,
  };
}

/** (d) Distribution of task weights over training for arms whose weights are not all 1/N. */
export function weightChart(data: ReportData): ChartSpec | undefined {
  const arms = data.arms.filter((arm) => arm.weightSnapshots.length > 0 && !weightsAreUniform(arm.weightSnapshots));
  if (arms.length === 0) return undefined;
  const bands = arms.flatMap((arm) => binWeights(arm.weightSnapshots, 60).map((bin) => ({ arm: arm.name, ...bin })));
  const x = { field: "iteration", type: "quantitative", title: "meta-iteration", axis: { tickCount: 6 } } as const;
  const color = armColor(data.arms, arms);
  const area = (low: string, high: string, opacity: number) => ({
    mark: { type: "area", opacity },
    encoding: { x, y: { field: low, type: "quantitative", title: "task weight" }, y2: { field: high }, color: armColor(data.arms, arms) },
  });
  const batch = Math.round(1 / (bands[0]?.uniform ?? 1));
  const columns = Math.min(arms.length, 2);
  const width = columns === 1 ? 600 : 300;
  return {
    id: "task-weights",
    title: "Task weights over training",
    caption:
      `Distribution of the weights given to the ${batch} tasks of each meta-batch (snapshots binned over iterations): ` +
      `shaded bands hold 100%, 80% and 50% of the weights, the solid line is the median, the dashed line the uniform weight 1/N and the thin line zero. ` +
      `Below: how many tasks per meta-batch received a negative weight (pushed against).`,
    spec: {
      config: BASE_CONFIG,
      data: { values: bands },
      vconcat: [
        {
          facet: { field: "arm", type: "nominal", title: null, sort: arms.map((arm) => arm.name), columns },
          spec: {
            width,
            height: 190,
            layer: [
              area("min", "max", 0.14),
              area("q10", "q90", 0.22),
              area("q25", "q75", 0.32),
              { mark: { type: "line", strokeWidth: 1.8 }, encoding: { x, y: { field: "median", type: "quantitative" }, color } },
              {
                mark: { type: "rule", color: "#555", strokeDash: [5, 3], strokeWidth: 1.4 },
                encoding: { y: { aggregate: "mean", field: "uniform", type: "quantitative" } },
              },
              { mark: { type: "rule", color: "#888", strokeWidth: 0.8 }, encoding: { y: { datum: 0, type: "quantitative" } } },
            ],
          },
        },
        {
          width: columns === 1 ? 600 : 2 * width + 20,
          height: 130,
          mark: { type: "line", strokeWidth: 1.8 },
          encoding: {
            x,
            y: { field: "negatives", type: "quantitative", title: "negative weights per batch" },
            color: armColor(data.arms, arms),
          },
        },
      ],
    } as TopLevelSpec,
  };
}

/**
 * (e) The update diagnostics over training: the effective number of tasks (Σ|w_i|)² / Σw_i² and the
 * cosine between the weighted and the uniform meta-gradient, seed mean per arm, smoothed like the
 * learning curves. Undefined when no curve point carries either (metrics written before them).
 */
export function diagnosticsChart(data: ReportData): ChartSpec | undefined {
  const fields: { field: DiagnosticField; title: string; reference: number }[] = [
    { field: "effectiveTasks", title: "effective tasks", reference: data.metaBatchSize },
    { field: "weightedCosine", title: "cosine to uniform direction", reference: 1 },
  ];
  const shown = fields.filter(({ field }) => data.arms.some((arm) => hasDiagnostic(arm.curves, field)));
  if (shown.length === 0) return undefined;
  // The same arms in both charts (those with any diagnostic), so the shared legend lists each once.
  const arms = data.arms.filter((arm) => shown.some(({ field }) => hasDiagnostic(arm.curves, field)));
  const x = { field: "iteration", type: "quantitative", title: "meta-iteration", axis: { tickCount: 8 } } as const;
  const panels = shown.map(({ field, title, reference }) => {
    const rows = arms.flatMap((arm) => {
      const series = diagnosticSeries(arm.curves, field);
      const smoothed = movingAverage(
        series.map((point) => point.value),
        smoothingWindow(series.length),
      );
      return thinIndices(series.length, 400).map((i) => ({ arm: arm.name, iteration: series[i]!.iteration, value: smoothed[i]! }));
    });
    return {
      width: 660,
      height: 170,
      data: { values: rows },
      layer: [
        // Its own one-row data: on the panel's rows the rule would be drawn once per row.
        {
          data: { values: [{}] },
          mark: { type: "rule", color: "#888", strokeDash: [5, 3], strokeWidth: 1 },
          encoding: { y: { datum: reference, type: "quantitative" } },
        },
        {
          mark: { type: "line", strokeWidth: 2, clip: true },
          encoding: {
            x,
            y: { field: "value", type: "quantitative", title, scale: { zero: false } },
            color: armColor(data.arms, arms),
            strokeDash: armDash(data.arms, arms),
          },
        },
      ],
    };
  });
  return {
    id: "diagnostics",
    title: "What the weighting does to the update",
    caption:
      `Per meta-iteration, seed mean, centered moving average like the learning curves. ` +
      `Effective tasks (Σ|w_i|)² / Σw_i²: ${data.metaBatchSize} (the dashed line) when every task counts equally, 1 when one task takes all the weight. ` +
      `Cosine between the weighted meta-gradient Σ w_i G_i and the uniform one (1/N) Σ G_i: 1 (dashed) for uniform weights; lower means the weighting turns the update away from the plain average.`,
    spec: { config: BASE_CONFIG, vconcat: panels, resolve: { scale: { color: "shared", strokeDash: "shared" } } } as TopLevelSpec,
  };
}

/**
 * A task family's panel as a chart: its Vega-Lite spec with the report's style underneath (the
 * panel's own `config` wins key by key), its id (or one made from its title) kept unique.
 */
export function panelChart(panel: ReportPanel, taken: ReadonlySet<string>): ChartSpec {
  const base = panel.id && /^[a-z0-9-]+$/.test(panel.id) ? panel.id : slug(panel.title);
  let id = base;
  for (let n = 2; taken.has(id); n++) id = `${base}-${n}`;
  const own = (panel.spec.config ?? {}) as Record<string, unknown>;
  return {
    id,
    title: panel.title,
    caption: panel.caption ?? "",
    spec: { ...panel.spec, config: { ...BASE_CONFIG, ...own } } as unknown as TopLevelSpec,
  };
}

function slug(text: string): string {
  return (
    text
      .toLowerCase()
      .replace(/[^a-z0-9]+/g, "-")
      .replace(/^-+|-+$/g, "") || "panel"
  );
}

/** Every chart the data supports, in report order: learning curves, evaluation, the family's panels, task weights, diagnostics. */
export function reportCharts(data: ReportData): ChartSpec[] {
  const charts = [learningCurveChart(data), innerStepChart(data)];
  const taken = new Set(["learning-curves", "inner-steps", "task-weights", "diagnostics", "results", "setup", "config"]);
  for (const panel of data.panels ?? []) {
    const chart = panelChart(panel, taken);
    taken.add(chart.id);
    charts.push(chart);
  }
  const weights = weightChart(data);
  if (weights) charts.push(weights);
  const diagnostics = diagnosticsChart(data);
  if (diagnostics) charts.push(diagnostics);
  return charts;
}
