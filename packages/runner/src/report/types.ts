import type { EvaluationResult } from "@concord/algorithms";
import type { ReportPanel } from "@concord/core";

/** One meta-iteration of one seed's learning curve (query loss of the meta-batch). */
export interface CurvePoint {
  readonly iteration: number;
  readonly queryLossAfter: number;
  readonly queryLossBefore: number;
}

/** The task weights of one meta-iteration. */
export interface WeightSnapshot {
  readonly iteration: number;
  readonly weights: readonly number[];
}

/** Everything the report shows about one arm (algorithm × weighting), over all its seeds. */
export interface ReportArm {
  readonly name: string;
  readonly algorithm: string;
  readonly weighting: string;
  readonly seeds: readonly number[];
  /** One learning curve per seed, in the order of `seeds`. */
  readonly curves: readonly (readonly CurvePoint[])[];
  /** Task weights over training (any seeds; pooled per iteration in the chart). */
  readonly weightSnapshots: readonly WeightSnapshot[];
  /** Held-out evaluation, pooled over seeds (combineEvaluations). */
  readonly evaluation: EvaluationResult;
  /** Total training + evaluation time of the arm over all seeds. */
  readonly wallTimeSeconds: number;
  /** Meta-iterations per seed. Default: the last iteration of the first curve. */
  readonly iterations?: number;
}

export interface ReportData {
  readonly title: string;
  readonly preset: string;
  readonly backend: string;
  /** ISO time the run started. */
  readonly createdAt: string;
  readonly iterations: number;
  readonly metaBatchSize: number;
  /** The resolved configuration, shown verbatim (JSON) at the end of the report. */
  readonly config: unknown;
  readonly arms: readonly ReportArm[];
  /** The task family's own panels (e.g. sinusoid fits), shown after the evaluation chart. */
  readonly panels?: readonly ReportPanel[];
}
