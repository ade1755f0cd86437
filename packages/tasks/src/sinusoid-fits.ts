import * as tf from "@tensorflow/tfjs-core";
import { type Batch, createRng, expect, expectInteger, type InnerOptimizer, type Model, modelParamsOf, type Params, type ReportPanel } from "@concord/core";
import { type SinusoidSampler, sinusoidCurve } from "./sinusoid.js";

/** One held-out sinusoid task: support points, true curve and the model before/after adaptation on a grid. */
export interface SinusoidFit {
  readonly amplitude: number;
  readonly phase: number;
  readonly supportX: readonly number[];
  readonly supportY: readonly number[];
  readonly xs: readonly number[];
  readonly truth: readonly number[];
  readonly before: readonly number[];
  readonly after: readonly number[];
  readonly steps: number;
}

export interface SinusoidFitOptions {
  readonly model: Model;
  /** θ' after `steps` inner steps on `support` (pass the algorithms' adapt() with the run's objective and inner optimizer). */
  readonly adapt: (params: Params, support: Batch, steps: number) => Params;
  /** Inner steps on the support set before the "after" curve. */
  readonly steps: number;
  /** Number of tasks to draw. */
  readonly count: number;
  /** Fixes the tasks (drawn from createRng(seed)), so every arm is shown on the same ones. */
  readonly seed: number;
  /** The task distribution to draw from: the run's own (clean) one, so the fits show the tasks it was trained for. */
  readonly sampler: SinusoidSampler;
  /** Points of the dense x grid over the sampler's input range. Default 101. */
  readonly gridSize?: number;
  /** The run's inner optimizer: its own parameters in `params` (Meta-SGD's rates) are not the model's. */
  readonly innerOptimizer?: InnerOptimizer;
}

/**
 * For `count` held-out sinusoid tasks of `sampler`: the model's predictions on a dense grid over the
 * input range before adaptation (θ) and after `steps` inner steps on the task's support set
 * (θ' = adapt(θ)), with the true curve A sin(x − φ) and the support points. Plain numbers, for reports.
 */
export function sinusoidFits(params: Params, options: SinusoidFitOptions): SinusoidFit[] {
  expect(options !== null && typeof options === "object", "options", "expected sinusoid fit options");
  expectInteger(options.steps, "steps", 0);
  expectInteger(options.count, "count", 1);
  expectInteger(options.seed, "seed");
  const gridSize = options.gridSize ?? 101;
  expectInteger(gridSize, "gridSize", 2);
  const sampler = options.sampler;
  expect(typeof sampler?.sampleWithInfo === "function", "sampler", "expected a sinusoid sampler (with sampleWithInfo)");
  expect(typeof options.adapt === "function", "adapt", "expected a function (params, support, steps) => params");
  const [low, high] = sampler.options.inputRange;
  const xs = Array.from({ length: gridSize }, (_, i) => low + ((high - low) * i) / (gridSize - 1));

  const { tasks, info } = sampler.sampleWithInfo(options.count, createRng(options.seed));
  try {
    return tasks.map((task, index) =>
      tf.tidy(() => {
        const grid = tf.tensor2d(xs, [gridSize, 1]);
        const adapted = options.adapt(params, task.support, options.steps);
        const { amplitude, phase } = info[index]!;
        return {
          amplitude,
          phase,
          supportX: Array.from(task.support.x.dataSync()),
          supportY: Array.from(task.support.y.dataSync()),
          xs,
          truth: sinusoidCurve(amplitude, phase, xs),
          before: Array.from(options.model.forward(modelParamsOf(params, options.innerOptimizer), grid).dataSync()),
          after: Array.from(options.model.forward(modelParamsOf(adapted, options.innerOptimizer), grid).dataSync()),
          steps: options.steps,
        };
      }),
    );
  } finally {
    for (const task of tasks) tf.dispose([task.support.x, task.support.y, task.query.x, task.query.y]);
  }
}

/**
 * The report panel of sinusoid fits: one row per arm, one column per task, each showing the true
 * curve, the support points and the model before and after adaptation. Axes span the sampler's
 * input range and amplitudes.
 */
export function sinusoidFitPanel(arms: readonly { readonly name: string; readonly fits: readonly SinusoidFit[] }[], sampler: SinusoidSampler): ReportPanel {
  const shown = arms.filter((arm) => arm.fits.length > 0);
  const steps = shown[0]?.fits[0]?.steps ?? 0;
  const tasksShown = Math.max(1, ...shown.map((arm) => arm.fits.length));
  const after = `after ${steps} step${steps === 1 ? "" : "s"}`;
  const series = ["true function", "before adaptation", after, "support points"];
  const rows: Record<string, string | number>[] = [];
  for (const arm of shown) {
    arm.fits.forEach((fit, index) => {
      const task = `task ${index + 1}: A = ${fit.amplitude.toFixed(2)}, φ = ${fit.phase.toFixed(2)}`;
      fit.xs.forEach((x, i) => {
        rows.push({ arm: arm.name, task, order: index, x, y: fit.truth[i]!, series: series[0]! });
        rows.push({ arm: arm.name, task, order: index, x, y: fit.before[i]!, series: series[1]! });
        rows.push({ arm: arm.name, task, order: index, x, y: fit.after[i]!, series: series[2]! });
      });
      fit.supportX.forEach((x, i) => rows.push({ arm: arm.name, task, order: index, x, y: fit.supportY[i]!, series: series[3]! }));
    });
  }
  const [low, high] = sampler.options.inputRange;
  const amplitude = Math.max(Math.abs(sampler.options.amplitude[0]), Math.abs(sampler.options.amplitude[1]));
  const evenTicks = Array.from({ length: Math.floor(high) - Math.ceil(low) + 1 }, (_, i) => Math.ceil(low) + i).filter(
    (x) => x % 2 === 0 && x > low && x < high,
  );
  const color = {
    field: "series",
    type: "nominal",
    title: null,
    scale: { domain: series, range: ["#222222", "#9aa0a6", "#d62728", "#222222"] },
    legend: { orient: "top", direction: "horizontal" },
  };
  const x = { field: "x", type: "quantitative", title: null, scale: { domain: [low, high], nice: false }, axis: { values: evenTicks } };
  const y = {
    field: "y",
    type: "quantitative",
    title: null,
    scale: { domain: [-(amplitude + 1), amplitude + 1], nice: false },
    axis: { values: [-Math.round(amplitude), 0, Math.round(amplitude)] },
  };
  const line = (name: string, extra: Record<string, unknown>) => ({
    transform: [{ filter: { field: "series", equal: name } }],
    mark: { type: "line", clip: true, ...extra },
    encoding: { x, y, color },
  });
  return {
    id: "sinusoid-fits",
    title: "Sinusoid fits before and after adaptation",
    caption:
      `Held-out sinusoid tasks (the same for every arm): the true curve, the K support points, the meta-learned ` +
      `model before adaptation and after ${steps} inner step${steps === 1 ? "" : "s"} on the support points. One row per arm.`,
    spec: {
      config: { header: { labelFontSize: 11, labelFontWeight: 500, labelColor: "#333", titleFontSize: 12 } },
      data: { values: rows },
      facet: {
        row: { field: "arm", type: "nominal", title: null, sort: shown.map((arm) => arm.name), header: { labelFontWeight: 600 } },
        column: { field: "task", type: "nominal", title: null, sort: { field: "order" } },
      },
      spacing: { row: 12, column: 10 },
      spec: {
        // Fit the page (about 900 px of plots) whatever the number of tasks.
        width: Math.max(120, Math.min(200, Math.floor(860 / tasksShown) - 40)),
        height: 120,
        layer: [
          line(series[0]!, { strokeWidth: 1.6 }),
          line(series[1]!, { strokeWidth: 1.4, strokeDash: [4, 3] }),
          line(series[2]!, { strokeWidth: 2 }),
          {
            transform: [{ filter: { field: "series", equal: series[3]! } }],
            mark: { type: "point", filled: true, size: 26, opacity: 1, clip: true },
            encoding: { x, y, color },
          },
        ],
      },
      resolve: { axis: { x: "independent", y: "independent" } },
    },
  };
}
