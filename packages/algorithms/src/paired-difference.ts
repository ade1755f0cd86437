import { expect } from "@concord/core";
import { meanWithCi95 } from "./evaluate-adaptation.js";

/** Per-task values of one evaluation: [step][task], tasks in the held-out set's order. */
export interface PerTaskValues {
  readonly perTaskLoss: readonly (readonly number[])[];
  readonly perTaskAccuracy?: readonly (readonly number[])[];
}

/** b − a at one inner step over the shared tasks: mean ± 1.96·s/√n of the per-task differences. */
export interface PairedStep {
  readonly step: number;
  readonly mean: number;
  readonly ci95: number;
  /** Tasks on which b is above a, and below. */
  readonly above: number;
  readonly below: number;
}

export interface PairedDifference {
  readonly taskCount: number;
  readonly loss: PairedStep[];
  /** When both evaluations report accuracy. */
  readonly accuracy?: PairedStep[];
}

/**
 * The paired difference b − a of two evaluations on the same held-out tasks (the same evaluation
 * seed and task count): per step, the mean and 95% CI of the per-task differences. The tasks'
 * own difficulty cancels, so the CI is the one to read for "is b better than a", not the two
 * arms' separate CIs.
 */
export function pairedDifference(a: PerTaskValues, b: PerTaskValues): PairedDifference {
  const shape = (values: PerTaskValues, field: string) => {
    expect(Array.isArray(values.perTaskLoss) && values.perTaskLoss.length > 0, `${field}.perTaskLoss`, "expected per-task losses, one array per inner step");
    return { steps: values.perTaskLoss.length, tasks: values.perTaskLoss[0]!.length };
  };
  const sizeA = shape(a, "a");
  const sizeB = shape(b, "b");
  expect(sizeB.steps === sizeA.steps, "b.perTaskLoss", `expected ${sizeA.steps - 1} inner steps like a, got ${sizeB.steps - 1}`);
  expect(sizeB.tasks === sizeA.tasks, "b.perTaskLoss", `expected ${sizeA.tasks} tasks like a, got ${sizeB.tasks}`);
  expect(sizeA.tasks >= 2, "a.perTaskLoss", `expected at least 2 tasks (a CI needs a spread), got ${sizeA.tasks}`);
  const steps = (fromA: readonly (readonly number[])[], fromB: readonly (readonly number[])[], field: string): PairedStep[] =>
    fromA.map((valuesA, step) => {
      const valuesB = fromB[step]!;
      expect(valuesA.length === sizeA.tasks && valuesB.length === sizeA.tasks, `${field}[${step}]`, `expected ${sizeA.tasks} tasks in both`);
      const differences = valuesB.map((value, task) => value - valuesA[task]!);
      return {
        step,
        ...meanWithCi95(differences),
        above: differences.filter((d) => d > 0).length,
        below: differences.filter((d) => d < 0).length,
      };
    });
  const accuracy = a.perTaskAccuracy && b.perTaskAccuracy ? steps(a.perTaskAccuracy, b.perTaskAccuracy, "perTaskAccuracy") : undefined;
  return { taskCount: sizeA.tasks, loss: steps(a.perTaskLoss, b.perTaskLoss, "perTaskLoss"), ...(accuracy ? { accuracy } : {}) };
}
