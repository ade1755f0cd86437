// The report's input: plain data (no tensors), so it can be written to JSON and shown in a browser.
import type { ReportPanel } from "@concord/core";

/** One meta-iteration of one seed's learning curve (query loss of the meta-batch) and its diagnostics. */
export interface CurvePoint {
  readonly iteration: number;
  readonly queryLossAfter: number;
  readonly queryLossBefore: number;
  /** Effective number of tasks (Σ|w_i|)² / Σw_i² of the meta-batch's weights; absent in older metrics files. */
  readonly effectiveTasks?: number;
  /** Cosine between the weighted direction Σ w_i G_i and the uniform one (1/N) Σ G_i (1 for uniform weights); absent in older metrics files. */
  readonly weightedCosine?: number;
}

/** Mean and 95% CI half-width of one evaluation step (the shape of @concord/algorithms' StepStatistic). */
export interface ReportStepStatistic {
  readonly step: number;
  readonly mean: number;
  readonly ci95: number;
}

/**
 * A held-out evaluation as the report reads it: @concord/algorithms' EvaluationResult fits as is
 * (the report depends on @concord/core only, so the shape is restated here).
 */
export interface ReportEvaluation {
  readonly taskCount: number;
  /** One entry per inner step 0..S: the query loss after that many steps. */
  readonly loss: readonly ReportStepStatistic[];
  readonly accuracy?: readonly ReportStepStatistic[];
  /** [step][task] query losses (not shown; results.json leaves them out). */
  readonly perTaskLoss?: readonly (readonly number[])[];
  readonly perTaskAccuracy?: readonly (readonly number[])[];
  readonly backend: string;
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
  readonly evaluation: ReportEvaluation;
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
