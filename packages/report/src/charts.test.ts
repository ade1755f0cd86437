import { describe, expect, it } from "vitest";
import { diagnosticsChart, reportCharts } from "./charts.js";
import { sampleReportData } from "./testing/report-fixtures.js";

describe("report chart specs (plain JSON, no rendering)", () => {
  it("every chart spec survives a JSON round trip unchanged (a browser page can embed it as is)", () => {
    for (const chart of reportCharts(sampleReportData({ iterations: 50, tasks: 5 }))) {
      expect(JSON.parse(JSON.stringify(chart.spec))).toEqual(chart.spec);
    }
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
