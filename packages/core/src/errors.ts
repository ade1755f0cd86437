/**
 * The one error type Concord throws for bad input. `field` names the option, config path or file
 * that was wrong, so callers (and the CLI) can point at it.
 */
export class ConcordError extends Error {
  readonly field: string | undefined;

  constructor(message: string, options: { field?: string; cause?: unknown } = {}) {
    super(options.field ? `${options.field}: ${message}` : message, { cause: options.cause });
    this.name = "ConcordError";
    this.field = options.field;
  }
}

/** Throws a ConcordError unless `condition` holds. */
export function expect(condition: unknown, field: string, message: string): asserts condition {
  if (!condition) throw new ConcordError(message, { field });
}

/** Checks that `value` is an integer within [min, max]. */
export function expectInteger(value: unknown, field: string, min = Number.NEGATIVE_INFINITY, max = Number.POSITIVE_INFINITY): asserts value is number {
  expect(
    typeof value === "number" && Number.isInteger(value) && value >= min && value <= max,
    field,
    `expected an integer${rangeText(min, max)}, got ${JSON.stringify(value)}`,
  );
}

/** Checks that `value` is a finite number within [min, max]. */
export function expectNumber(value: unknown, field: string, min = Number.NEGATIVE_INFINITY, max = Number.POSITIVE_INFINITY): asserts value is number {
  expect(
    typeof value === "number" && Number.isFinite(value) && value >= min && value <= max,
    field,
    `expected a finite number${rangeText(min, max)}, got ${JSON.stringify(value)}`,
  );
}

function rangeText(min: number, max: number): string {
  if (min === Number.NEGATIVE_INFINITY && max === Number.POSITIVE_INFINITY) return "";
  if (max === Number.POSITIVE_INFINITY) return ` >= ${min}`;
  if (min === Number.NEGATIVE_INFINITY) return ` <= ${max}`;
  return ` in [${min}, ${max}]`;
}
