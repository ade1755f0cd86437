/** Messages between the meta-train page and its Web Worker. */
import type { BrowserBackend } from "../setup-backend.js";
import type { WeightingChoice } from "./weighting-choice.js";

export type AlgorithmChoice = "maml2" | "fomaml" | "reptile";

export interface TrainSettings {
  readonly algorithm: AlgorithmChoice;
  readonly backend: BrowserBackend;
  readonly seed: number;
  /** Fraction of meta-training tasks whose targets are replaced by noise (held-out tasks stay clean). */
  readonly corruption: number;
  /** Stop after this many iterations (the page's default is unlimited). */
  readonly maxIterations: number;
  /** The weighting scheme of each arm, as data (the worker builds the schemes); all different. */
  readonly weightings: readonly WeightingChoice[];
}

export type ToWorker =
  | { readonly type: "start"; readonly settings: TrainSettings }
  | { readonly type: "pause" }
  | { readonly type: "resume" }
  | { readonly type: "reset" };

export interface ArmProgress {
  /** The arm's key: weightingKey of its scheme ("uniform", "agreement", "tail-risk(alpha=0.1)", …). */
  readonly arm: string;
  /** Mean query loss after adaptation on this iteration's meta-batch. */
  readonly trainLoss: number;
  /** Mean query loss of the held-out tasks after adaptation (only on evaluation iterations). */
  readonly heldOutLoss?: number;
}

export interface ArmFit {
  /** The arm's key, as in ArmProgress. */
  readonly arm: string;
  /** Predictions on `xs` before and after adapting to the support points. */
  readonly before: readonly number[];
  readonly after: readonly number[];
}

export type FromWorker =
  | { readonly type: "ready"; readonly backend: string }
  | { readonly type: "progress"; readonly iteration: number; readonly msPerIteration: number; readonly arms: readonly ArmProgress[] }
  | {
      readonly type: "fits";
      readonly iteration: number;
      /** Inner steps of the adaptation drawn as "after" (1 for MAML, 5 for Reptile). */
      readonly innerSteps: number;
      readonly xs: readonly number[];
      readonly truth: readonly number[];
      readonly support: { readonly x: readonly number[]; readonly y: readonly number[] };
      readonly arms: readonly ArmFit[];
    }
  | { readonly type: "stopped"; readonly iteration: number }
  | { readonly type: "error"; readonly message: string };
