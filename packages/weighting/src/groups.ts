import { ConcordError, type WeightingInput } from "@concord/core";

/**
 * Checks `input.groups` for a scheme that weights by task group: one integer id in [0, groupCount)
 * per task. Returns the ids. Throws a ConcordError naming `groups` otherwise, saying that the task
 * sampler must declare groups (the meta-step passes `groups` only when every task has a `group`).
 */
export function expectGroups(input: WeightingInput, tasks: number, groupCount: number, schemeName: string): readonly number[] {
  const groups: unknown = input.groups;
  const needs = `weighting scheme '${schemeName}' needs each task's group id (${tasks} integers in [0, ${groupCount})); the task sampler must declare groups (Task.group on every task)`;
  if (!Array.isArray(groups)) {
    throw new ConcordError(`${needs}, got ${groups === undefined ? "no groups" : typeof groups}`, { field: "groups" });
  }
  if (groups.length !== tasks) {
    throw new ConcordError(`${needs}, got ${groups.length} group ids for ${tasks} tasks`, { field: "groups" });
  }
  const bad = groups.findIndex((group: unknown) => !(typeof group === "number" && Number.isInteger(group) && group >= 0 && group < groupCount));
  if (bad >= 0) {
    throw new ConcordError(`${needs}, got groups[${bad}] = ${describe(groups[bad])}`, { field: "groups" });
  }
  return groups as readonly number[];
}

function describe(value: unknown): string {
  return typeof value === "number" ? String(value) : (JSON.stringify(value) ?? String(value));
}
