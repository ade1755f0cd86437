// Hand-made report data that looks like a real sinusoid comparison (for report and table tests).
import { type EvaluationResult, meanWithCi95 } from "@concord/algorithms";
import { createRng } from "@concord/core";
import { type SinusoidFit, sinusoid, sinusoidFitPanel } from "@concord/tasks";
import type { CurvePoint, ReportArm, ReportData, WeightSnapshot } from "../report/types.js";

const ARMS = [
  { algorithm: "maml", weighting: "uniform", final: 0.42 },
  { algorithm: "maml", weighting: "agreement", final: 0.36 },
  { algorithm: "reptile", weighting: "uniform", final: 0.71 },
  { algorithm: "reptile", weighting: "agreement", final: 0.63 },
] as const;

export function sampleReportData(options: { iterations?: number; seeds?: number[]; tasks?: number; steps?: number; batch?: number } = {}): ReportData {
  const iterations = options.iterations ?? 400;
  const seeds = options.seeds ?? [1, 2];
  const tasks = options.tasks ?? 100;
  const steps = options.steps ?? 10;
  const batch = options.batch ?? 10;
  const rng = createRng(42);
  const fitsByArm: { name: string; fits: SinusoidFit[] }[] = [];
  const arms: ReportArm[] = ARMS.map((spec) => {
    const curves: CurvePoint[][] = seeds.map(() =>
      Array.from({ length: iterations }, (_, i) => {
        const level = spec.final + 2.5 * Math.exp(-i / (iterations / 5));
        return { iteration: i + 1, queryLossAfter: level * Math.exp(0.35 * rng.normal()), queryLossBefore: 3 * Math.exp(0.2 * rng.normal()) };
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
    const evaluation: EvaluationResult = {
      taskCount: tasks * seeds.length,
      loss: perTaskLoss.map((values, step) => ({ step, ...meanWithCi95(values) })),
      perTaskLoss,
      backend: "wasm",
    };
    const fits: SinusoidFit[] = [0, 1, 2].map((t) => {
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
    panels: [sinusoidFitPanel(fitsByArm, sinusoid())],
  };
}
