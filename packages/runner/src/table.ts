import { armIterations, bestStep, everyArmHasAccuracy, finalAccuracy, finalStep, formatDuration, formatMeanCi, type ReportArm } from "@concord/report";

/**
 * The results table `compare` prints: one row per arm with the held-out query loss after the last
 * inner step (mean ± 95% CI over the pooled tasks), its accuracy when every arm reports one, the best
 * step, iterations, wall time and backend.
 *
 *     arm                final loss (step 10)  best step              tasks  iterations  wall time  backend
 *     maml-agreement     0.412 ± 0.031         0.405 ± 0.030 @ 7      1200   1000        2 min 10 s wasm
 */
export function formatResultsTable(arms: readonly ReportArm[]): string {
  const finalSteps = [...new Set(arms.map((arm) => finalStep(arm)?.step))];
  const finalTitle = finalSteps.length === 1 && finalSteps[0] !== undefined ? `final loss (step ${finalSteps[0]})` : "final loss (last step)";
  // Classification arms: the accuracy at the same final step, beside the loss.
  const withAccuracy = everyArmHasAccuracy(arms);
  const header = ["arm", finalTitle, ...(withAccuracy ? ["accuracy"] : []), "best step", "tasks", "iterations", "wall time", "backend"];
  const rows = arms.map((arm) => {
    const last = finalStep(arm);
    const best = bestStep(arm.evaluation.loss);
    return [
      arm.name,
      last ? formatMeanCi(last.mean, last.ci95) : "n/a",
      ...(withAccuracy ? [finalAccuracy(arm) ?? "n/a"] : []),
      best ? `${formatMeanCi(best.mean, best.ci95)} @ ${best.step}` : "n/a",
      String(arm.evaluation.taskCount),
      String(armIterations(arm) ?? "n/a"),
      formatDuration(arm.wallTimeSeconds),
      arm.evaluation.backend,
    ];
  });
  const widths = header.map((title, column) => Math.max(title.length, ...rows.map((row) => row[column]!.length)));
  const line = (cells: readonly string[]) =>
    cells
      .map((cell, column) => cell.padEnd(widths[column]!))
      .join("  ")
      .trimEnd();
  const rule = widths.map((width) => "-".repeat(width)).join("  ");
  return [
    "Held-out query loss after adaptation (mean ± 95% CI = 1.96·s/√n over the pooled tasks, lower is better)",
    line(header),
    rule,
    ...rows.map(line),
  ].join("\n");
}
