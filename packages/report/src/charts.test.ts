import { describe, expect, it } from "vitest";
import { checkpointAccuracyChart, diagnosticsChart, reportCharts } from "./charts.js";
import { sampleReportData } from "./testing/report-fixtures.js";

describe("report chart specs (plain JSON, no rendering)", () => {
  it("every chart spec survives a JSON round trip unchanged (a browser page can embed it as is)", () => {
    for (const chart of reportCharts(sampleReportData({ iterations: 50, tasks: 5 }))) {
      expect(JSON.parse(JSON.stringify(chart.spec))).toEqual(chart.spec);
    }
  });

  it("the checkpoint accuracy chart plots every arm's points with their CI bands and the reference rule inside its y range", () => {
    const series = [
      {
        name: "maml+uniform",
        algorithm: "maml",
        weighting: "uniform",
        points: [
          { iteration: 5000, mean: 0.92, ci95: 0.01 },
          { iteration: 10000, mean: 0.95, ci95: 0.008 },
        ],
      },
      { name: "maml+agreement", algorithm: "maml", weighting: "agreement", points: [{ iteration: 5000, mean: 0.921, ci95: 0.009 }] },
    ];
    const chart = checkpointAccuracyChart(series, { taskCount: 600, innerSteps: 3, reference: { label: "paper: 98.3%", accuracy: 0.983 } });
    expect(JSON.parse(JSON.stringify(chart.spec))).toEqual(chart.spec);
    const spec = chart.spec as unknown as {
      data: { values: { arm: string; iteration: number; accuracy: number; lower: number; upper: number }[] };
      layer: { encoding: { y: { datum?: number; scale?: { domain: number[] } } } }[];
    };
    expect(spec.data.values.map((row) => [row.arm, row.iteration, row.accuracy])).toEqual([
      ["maml+uniform", 5000, 0.92],
      ["maml+uniform", 10000, 0.95],
      ["maml+agreement", 5000, 0.921],
    ]);
    expect(spec.data.values[0]!.lower).toBeCloseTo(0.91, 12);
    expect(spec.data.values[0]!.upper).toBeCloseTo(0.93, 12);
    expect(spec.layer[2]!.encoding.y.datum).toBe(0.983);
    const [low, high] = spec.layer[1]!.encoding.y.scale!.domain as [number, number];
    expect(low).toBeLessThanOrEqual(0.91);
    expect(high).toBeGreaterThanOrEqual(0.983);
    expect(high).toBeLessThanOrEqual(1);
    expect(chart.caption).toContain("600 held-out tasks after 3 inner steps");
  });

  it("the diagnostics chart plots both fields per arm, with reference lines at N and at cosine 1", () => {
    const data = sampleReportData({ iterations: 50, tasks: 5 });
    const chart = diagnosticsChart(data)!;
    expect(chart.id).toBe("diagnostics");
    const panels = (
      chart.spec as unknown as {
        vconcat: { data: { values: { arm: string; value: number }[] }; layer: { encoding: { y: { datum?: number; title?: string } } }[] }[];
      }
    ).vconcat;
    expect(panels.map((panel) => panel.layer[1]!.encoding.y.title)).toEqual(["effective tasks", "cosine to uniform direction"]);
    expect(panels.map((panel) => panel.layer[0]!.encoding.y.datum)).toEqual([data.metaBatchSize, 1]);
    for (const panel of panels) expect(new Set(panel.data.values.map((row) => row.arm))).toEqual(new Set(data.arms.map((arm) => arm.name)));
    // Uniform arms sit exactly on the reference lines.
    expect(panels[0]!.data.values.filter((row) => row.arm === "maml-uniform").every((row) => row.value === data.metaBatchSize)).toBe(true);
    expect(panels[1]!.data.values.filter((row) => row.arm === "maml-uniform").every((row) => Math.abs(row.value - 1) < 1e-12)).toBe(true);
  });

  it("leaves the diagnostics chart out when no curve point has them, and shows only the field that some arm has", () => {
    const old = sampleReportData({ iterations: 30, tasks: 5, diagnostics: false });
    expect(diagnosticsChart(old)).toBeUndefined();
    expect(reportCharts(old).map((chart) => chart.id)).not.toContain("diagnostics");
    const onlyCosine = {
      ...old,
      arms: old.arms.map((arm, index) =>
        index === 1 ? { ...arm, curves: arm.curves.map((curve) => curve.map((point) => ({ ...point, weightedCosine: 0.9 }))) } : arm,
      ),
    };
    const chart = diagnosticsChart(onlyCosine)!;
    const panels = (chart.spec as unknown as { vconcat: { data: { values: { arm: string }[] } }[] }).vconcat;
    expect(panels).toHaveLength(1);
    expect(new Set(panels[0]!.data.values.map((row) => row.arm))).toEqual(new Set([old.arms[1]!.name]));
  });
});
