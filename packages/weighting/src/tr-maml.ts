import * as tf from "@tensorflow/tfjs-core";
import { ConcordError, expectInteger, expectNumber, type WeightingScheme, type WeightingState } from "@concord/core";
import { expectGroups } from "./groups.js";
import { readLosses } from "./losses.js";
import { projectOntoSimplex } from "./simplex-projection.js";
import { expectUpdates } from "./updates.js";

export interface TrMamlOptions {
  /** G ≥ 1: the number of task groups the sampler declares (ids 0 … G−1). */
  readonly groups: number;
  /** The step size of the ascent on p, ≥ 0 (0 keeps p uniform forever). */
  readonly lr: number;
}

/** A weighting scheme whose state is saved in checkpoints: getState and setState are always there. */
export type StatefulWeightingScheme = WeightingScheme & Required<Pick<WeightingScheme, "getState" | "setState">>;

/** How far from 1 the sum of a restored p may be (the projection's own round-off is ~G·2^-52). */
const SIMPLEX_TOLERANCE = 1e-9;

/**
 * TR-MAML task weighting (Collins, Mokhtari & Shakkottai, "Task-Robust Model-Agnostic
 * Meta-Learning", NeurIPS 2020): the minimax min_θ max_{p ∈ Δ_G} Σ_g p_g ℓ_g(θ) over G task groups,
 * solved by alternating a weighted meta-step on θ with projected gradient ascent on p. The state
 * p starts uniform (1/G each). For task i in group g(i) = input.groups[i], with n_g the number of
 * batch tasks in group g and P the set of groups present in the batch,
 *
 *     w_i = p_{g(i)} / (n_{g(i)} · Σ_{h ∈ P} p_h),
 *
 * and then, in the same call, p ← Π_Δ(p + lr·ℓ), ℓ_g being the mean query loss L_i of group g's
 * batch tasks (0 for an absent group) and Π_Δ the Euclidean projection onto the simplex. p is kept
 * in float64. When Σ_{h ∈ P} p_h = 0 (the ascent has driven every present group's p to 0) the
 * weights are uniform over the batch with `fellBack: true`, and p is still updated, so those
 * groups regain weight once their losses are high enough. Every input is checked before p changes.
 * getState() is { name: "trMaml", values: { p } }; setState restores it, so a resumed run continues
 * bit for bit. Needs `input.groups` (the task sampler must declare groups).
 */
export function trMaml(options: TrMamlOptions): StatefulWeightingScheme {
  const groupCount = (options as Partial<TrMamlOptions> | undefined)?.groups;
  const lr = (options as Partial<TrMamlOptions> | undefined)?.lr;
  expectInteger(groupCount, "groups", 1);
  expectNumber(lr, "lr", 0);
  let p: number[] = Array.from({ length: groupCount }, () => 1 / groupCount);

  return {
    name: "trMaml",
    taskGroups: groupCount,
    weights(input) {
      const tasks = expectUpdates(input, "trMaml");
      const losses = readLosses(input, tasks, "trMaml");
      const groups = expectGroups(input, tasks, groupCount, "trMaml");

      const counts = new Array<number>(groupCount).fill(0);
      const lossSums = new Array<number>(groupCount).fill(0);
      groups.forEach((group, i) => {
        counts[group]! += 1;
        lossSums[group]! += losses[i]!;
      });
      let present = 0;
      counts.forEach((count, group) => {
        if (count > 0) present += p[group]!;
      });
      const fellBack = present === 0;
      const weights = fellBack ? new Float32Array(tasks).fill(1 / tasks) : Float32Array.from(groups, (group) => p[group]! / (counts[group]! * present));

      const meanLosses = lossSums.map((sum, group) => (counts[group]! > 0 ? sum / counts[group]! : 0));
      const ascended = p.map((value, group) => value + lr * meanLosses[group]!);
      if (!ascended.every(Number.isFinite)) {
        throw new ConcordError(`the ascent step p + lr·ℓ overflowed (lr ${lr}, group mean losses [${meanLosses}]); use a smaller lr`, { field: "lr" });
      }
      p = projectOntoSimplex(ascended);
      return { weights: tf.tensor1d(weights, "float32"), fellBack };
    },
    getState(): WeightingState {
      return { name: "trMaml", values: { p: [...p] } };
    },
    setState(state: WeightingState) {
      p = checkState(state, groupCount);
    },
  };
}

/** Validates a saved TR-MAML state for G groups and returns a copy of its p. */
function checkState(state: WeightingState, groupCount: number): number[] {
  if (state === null || typeof state !== "object") {
    throw new ConcordError(`expected a TR-MAML state { name: "trMaml", values: { p } }, got ${state === null ? "null" : typeof state}`, { field: "state" });
  }
  if (state.name !== "trMaml") {
    throw new ConcordError(`expected "trMaml", got ${JSON.stringify(state.name)} (a state saved by another weighting scheme?)`, { field: "state.name" });
  }
  const values: unknown = state.values;
  if (values === null || typeof values !== "object")
    throw new ConcordError(`expected an object { p: number[] }, got ${typeof values}`, { field: "state.values" });
  const extra = Object.keys(values).filter((key) => key !== "p");
  if (extra.length > 0) throw new ConcordError(`expected only "p", got also ${extra.map((key) => JSON.stringify(key)).join(", ")}`, { field: "state.values" });
  const p: unknown = (values as Record<string, unknown>)["p"];
  if (!Array.isArray(p) || p.length !== groupCount) {
    const got = Array.isArray(p) ? `${p.length} values` : typeof p;
    throw new ConcordError(`expected ${groupCount} probabilities, one per group (groups: ${groupCount}), got ${got}`, { field: "state.values.p" });
  }
  const bad = p.findIndex((value: unknown) => !(typeof value === "number" && Number.isFinite(value) && value >= 0));
  if (bad >= 0) throw new ConcordError(`expected finite numbers >= 0, got p[${bad}] = ${String(p[bad])}`, { field: "state.values.p" });
  const sum = (p as number[]).reduce((total, value) => total + value, 0);
  if (Math.abs(sum - 1) > SIMPLEX_TOLERANCE) {
    throw new ConcordError(`expected a point of the simplex (Σ p = 1 within ${SIMPLEX_TOLERANCE}), got Σ p = ${sum}`, { field: "state.values.p" });
  }
  return [...(p as number[])];
}
