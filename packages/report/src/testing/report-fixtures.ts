// Hand-made report data that looks like a real sinusoid comparison (for the report's tests). Built from
// @concord/core only, as the report package is: the family panel is a plain Vega-Lite spec of fits.
import { createRng, type ReportPanel } from "@concord/core";
import type { CurvePoint, ReportArm, ReportData, ReportEvaluation, WeightSnapshot } from "../types.js";

interface Fit {
  readonly xs: number[];
  readonly truth: number[];
  readonly after: number[];
}

/** Sample mean and 95% CI half-width 1.96·s/√n (s with n − 1). */
function meanWithCi95(values: readonly number[]): { mean: number; ci95: number } {
  const mean = values.reduce((sum, v) => sum + v, 0) / values.length;
  const variance = values.reduce((sum, v) => sum + (v - mean) ** 2, 0) / Math.max(1, values.length - 1);
  return { mean, ci95: (1.96 * Math.sqrt(variance)) / Math.sqrt(values.length) };
}

/** A family panel like the sinusoid one: truth and adapted fit per task, one facet per arm. */
function fitPanel(fitsByArm: readonly { name: string; fits: readonly Fit[] }[]): ReportPanel {
  const values = fitsByArm.flatMap(({ name, fits }) =>
    fits.flatMap((fit, task) =>
      fit.xs.flatMap((x, i) => [
        { arm: name, task, curve: "truth", x, y: fit.truth[i]! },
        { arm: name, task, curve: "after", x, y: fit.after[i]! },
      ]),
    ),
  );
  return {
    id: "sinusoid-fits",
    title: "Fits on held-out tasks",
    caption: "Truth and the fit after adaptation.",
    spec: {
      data: { values },
      facet: { field: "arm", type: "nominal" },
      spec: {
        width: 200,
        height: 120,
        mark: "line",
        encoding: {
          x: { field: "x", type: "quantitative" },
          y: { field: "y", type: "quantitative" },
          color: { field: "curve", type: "nominal" },
          detail: { field: "task", type: "nominal" },
        },
      },
    },
  };
}

const ARMS = [
  { algorithm: "maml", weighting: "uniform", final: 0.42 },
  { algorithm: "maml", weighting: "agreement", final: 0.36 },
  { algorithm: "reptile", weighting: "uniform", final: 0.71 },
  { algorithm: "reptile", weighting: "agreement", final: 0.63 },
] as const;

/**
 * `diagnostics` (default true) adds effectiveTasks and weightedCosine to every curve point, as
 * metrics files have them since the diagnostics were added; false gives an older run's curves.
 */
export function sampleReportData(
  options: { iterations?: number; seeds?: number[]; tasks?: number; steps?: number; batch?: number; diagnostics?: boolean } = {},
): ReportData {
  const iterations = options.iterations ?? 400;
  const seeds = options.seeds ?? [1, 2];
  const tasks = options.tasks ?? 100;
  const steps = options.steps ?? 10;
  const batch = options.batch ?? 10;
  const rng = createRng(42);
  const diagnostics = options.diagnostics ?? true;
  const fitsByArm: { name: string; fits: Fit[] }[] = [];
  const arms: ReportArm[] = ARMS.map((spec) => {
    const curves: CurvePoint[][] = seeds.map(() =>
      Array.from({ length: iterations }, (_, i) => {
        const level = spec.final + 2.5 * Math.exp(-i / (iterations / 5));
        const point = { iteration: i + 1, queryLossAfter: level * Math.exp(0.35 * rng.normal()), queryLossBefore: 3 * Math.exp(0.2 * rng.normal()) };
        if (!diagnostics) return point;
        if (spec.weighting === "uniform") return { ...point, effectiveTasks: batch, weightedCosine: 1 };
        return { ...point, effectiveTasks: batch * (0.55 + 0.1 * rng.uniform(0, 1)), weightedCosine: 0.8 + 0.1 * rng.uniform(0, 1) };
      }),
    );
    const weightSnapshots: WeightSnapshot[] = [];
    for (let i = 1; i <= iterations; i += 1) {
      const raw = Array.from({ length: batch }, () => 1 + (spec.weighting === "uniform" ? 0 : 0.9 * rng.normal()));
      const norm = raw.reduce((sum, w) => sum + Math.abs(w), 0);
      weightSnapshots.push({ iteration: i, weights: raw.map((w) => w / norm) });
    }
    const perTaskLoss = Array.from({ length: steps + 1 }, (_, step) =>
      Array.from({ length: tasks * seeds.length }, () => (spec.final + 3 * Math.exp(-1.5 * step)) * Math.exp(0.5 * rng.normal())),
    );
    const evaluation: ReportEvaluation = {
      taskCount: tasks * seeds.length,
      loss: perTaskLoss.map((values, step) => ({ step, ...meanWithCi95(values) })),
      perTaskLoss,
      backend: "wasm",
    };
    const fits: Fit[] = [0, 1, 2].map((t) => {
      const amplitude = 1 + 1.3 * t;
      const phase = 0.4 + 0.9 * t;
      const xs = Array.from({ length: 101 }, (_, i) => -5 + i / 10);
      const supportX = Array.from({ length: 10 }, () => rng.uniform(-5, 5));
      return {
        amplitude,
        phase,
        supportX,
        supportY: supportX.map((x) => amplitude * Math.sin(x - phase)),
        xs,
        truth: xs.map((x) => amplitude * Math.sin(x - phase)),
        before: xs.map((x) => 0.6 * Math.sin(x - 1.2)),
        after: xs.map((x) => (amplitude - spec.final / 2) * Math.sin(x - phase - 0.1)),
        steps,
      };
    });
    fitsByArm.push({ name: `${spec.algorithm}-${spec.weighting}`, fits });
    return {
      name: `${spec.algorithm}-${spec.weighting}`,
      algorithm: spec.algorithm,
      weighting: spec.weighting,
      seeds,
      curves,
      weightSnapshots,
      evaluation,
      wallTimeSeconds: 61.5 + 30 * seeds.length,
      iterations,
    };
  });
  return {
    title: "Concord: gradient agreement on sinusoid regression",
    preset: "sinusoid",
    backend: "wasm",
    createdAt: "2026-11-27T06:30:00.000Z",
    iterations,
    metaBatchSize: batch,
    config: { preset: "sinusoid", iterations, metaBatchSize: batch, innerSteps: 1, note: "<script>alert(1)</script>" },
    arms,
    panels: [fitPanel(fitsByArm)],
  };
}
