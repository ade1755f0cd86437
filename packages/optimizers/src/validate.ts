import { ConcordError, expect, expectInteger, type OuterOptimizerState } from "@concord/core";

/** A learning rate: a finite number > 0. */
export function expectLearningRate(value: unknown, field: string): asserts value is number {
  expect(typeof value === "number" && Number.isFinite(value) && value > 0, field, `expected a finite number > 0, got ${show(value)}`);
}

/** A decay rate such as Adam's β: a number in [0, 1). */
export function expectDecayRate(value: unknown, field: string): asserts value is number {
  expect(typeof value === "number" && value >= 0 && value < 1, field, `expected a number in [0, 1), got ${show(value)}`);
}

/** A finite number ≥ 0. */
export function expectNonNegative(value: unknown, field: string): asserts value is number {
  expect(typeof value === "number" && Number.isFinite(value) && value >= 0, field, `expected a finite number >= 0, got ${show(value)}`);
}

/** An options object (or undefined when every option has a default). */
export function expectOptions(value: unknown, optimizer: string): asserts value is object | undefined {
  if (value !== undefined && (value === null || typeof value !== "object")) {
    throw new ConcordError(`${optimizer}() expected an options object, got ${show(value)}`, { field: "options" });
  }
}

/** Checks the name and step of a state about to be restored into optimizer `name`. */
export function expectStateHeader(state: unknown, name: string): asserts state is OuterOptimizerState {
  if (state === null || typeof state !== "object") {
    throw new ConcordError(`expected an optimizer state object, got ${show(state)}`, { field: "state" });
  }
  const { name: stateName, step, slots } = state as Partial<OuterOptimizerState>;
  expect(stateName === name, "state.name", `expected optimizer state of '${name}', got ${show(stateName)}`);
  expectInteger(step, "state.step", 0);
  expect(slots !== null && typeof slots === "object", "state.slots", `expected an object of named tensors, got ${show(slots)}`);
}

function show(value: unknown): string {
  if (typeof value === "number") return String(value); // JSON.stringify would print NaN as null
  return value === undefined ? "undefined" : JSON.stringify(value);
}
