import { ConcordError, type StandardSchemaV1 } from "@concord/core";
import { closest, distance } from "fastest-levenshtein";
import type { z } from "zod";

/**
 * Validates `value` with a zod schema and throws ONE ConcordError for the first problem, naming the
 * field path, what was expected and the value given; unknown fields get a "did you mean" suggestion.
 */
export function parseWithSchema<T extends z.ZodType>(schema: T, value: unknown, fieldPrefix = ""): z.output<T> {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const issue = result.error.issues[0]!;
  throw issueError(issue, value, fieldPrefix, schema);
}

/**
 * Validates plug-in options with any Standard Schema: zod schemas get `parseWithSchema`'s messages;
 * other validators' first issue becomes a ConcordError naming the field path, what was expected (the
 * validator's message) and the value given. Returns a promise only when the validator is asynchronous.
 */
export function validateWithSchema(schema: StandardSchemaV1, value: unknown, fieldPrefix: string): unknown {
  if (isZodSchema(schema)) return parseWithSchema(schema, value, fieldPrefix);
  const result = schema["~standard"].validate(value);
  if (result instanceof Promise) return result.then((settled) => standardValue(settled, value, fieldPrefix));
  return standardValue(result, value, fieldPrefix);
}

function isZodSchema(schema: unknown): schema is z.ZodType {
  return schema !== null && typeof schema === "object" && "_zod" in schema;
}

function standardValue(result: StandardSchemaV1.Result<unknown>, root: unknown, prefix: string): unknown {
  if (!result.issues) return result.value;
  const issue = result.issues[0];
  const path = (issue?.path ?? []).map((segment) => (typeof segment === "object" ? segment.key : segment));
  const message = (issue?.message ?? "valid options").replace(/^expected /i, "");
  const given = valueAt(root, path);
  return fail(new ConcordError(`expected ${message}, got ${given === undefined ? "nothing" : describeValue(given)}`, { field: joinPath(prefix, path) }));
}

function fail(error: ConcordError): never {
  throw error;
}

function issueError(issue: z.core.$ZodIssue, root: unknown, prefix: string, schema: z.ZodType): ConcordError {
  const field = joinPath(prefix, issue.path);
  const given = describeValue(valueAt(root, issue.path));
  switch (issue.code) {
    case "unrecognized_keys": {
      const key = issue.keys[0]!;
      const known = knownKeys(schema, issue.path);
      const suggestion = suggest(key, known);
      return new ConcordError(
        `unknown field${suggestion ? `; did you mean "${suggestion}"?` : known.length > 0 ? ` (known fields: ${known.join(", ")})` : ""}`,
        { field: joinPath(field, [key]) },
      );
    }
    case "invalid_type":
      if (valueAt(root, issue.path) === undefined)
        return new ConcordError(`expected ${typeName(issue.expected)}, got nothing (the field is required)`, { field });
      return new ConcordError(`expected ${typeName(issue.expected)}, got ${given}`, { field });
    case "too_small":
      return new ConcordError(`expected ${boundText(issue.origin, ">", issue.minimum, issue.inclusive)}, got ${given}`, { field });
    case "too_big":
      return new ConcordError(`expected ${boundText(issue.origin, "<", issue.maximum, issue.inclusive)}, got ${given}`, { field });
    case "invalid_value": {
      const options = issue.values.map((v) => JSON.stringify(v));
      const raw = valueAt(root, issue.path);
      const suggestion =
        typeof raw === "string"
          ? suggest(
              raw,
              issue.values.filter((v): v is string => typeof v === "string"),
            )
          : undefined;
      return new ConcordError(
        `expected ${options.length === 1 ? options[0] : `one of ${options.join(", ")}`}, got ${given}${suggestion ? ` (did you mean "${suggestion}"?)` : ""}`,
        {
          field,
        },
      );
    }
    default:
      return new ConcordError(`expected ${issue.message.replace(/^expected /i, "")}, got ${given}`, { field });
  }
}

/** The closest candidate within a small edit distance, if any. */
export function suggest(word: string, candidates: readonly string[]): string | undefined {
  if (candidates.length === 0) return undefined;
  const best = closest(word, [...candidates]);
  const limit = Math.max(2, Math.floor(word.length / 3));
  return distance(word.toLowerCase(), best.toLowerCase()) <= limit ? best : undefined;
}

/** Formats a value for an error message (short JSON). */
export function describeValue(value: unknown): string {
  if (value === undefined) return "nothing";
  if (typeof value === "number" && !Number.isFinite(value)) return String(value);
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}

export function joinPath(prefix: string, path: readonly PropertyKey[]): string {
  let out = prefix;
  for (const key of path) {
    if (typeof key === "number") out += `[${key}]`;
    else out += out ? `.${String(key)}` : String(key);
  }
  return out;
}

function valueAt(root: unknown, path: readonly PropertyKey[]): unknown {
  let current = root;
  for (const key of path) {
    if (current === null || typeof current !== "object") return undefined;
    current = (current as Record<PropertyKey, unknown>)[key];
  }
  return current;
}

/** The field names the schema accepts at `path` (walks objects, wrappers, arrays and unions). */
function knownKeys(schema: z.ZodType, path: readonly PropertyKey[]): string[] {
  const keys = new Set<string>();
  const visit = (node: z.core.$ZodType, rest: readonly PropertyKey[]): void => {
    const def = node._zod.def as unknown as Record<string, unknown> & { type: string };
    switch (def.type) {
      case "optional":
      case "nullable":
      case "default":
      case "prefault":
      case "readonly":
      case "nonoptional":
        visit(def.innerType as z.core.$ZodType, rest);
        return;
      case "pipe":
        visit(def.in as z.core.$ZodType, rest);
        return;
      case "union":
        for (const option of def.options as z.core.$ZodType[]) visit(option, rest);
        return;
      case "array":
        if (rest.length > 0) visit(def.element as z.core.$ZodType, rest.slice(1));
        return;
      case "record":
        if (rest.length > 0) visit(def.valueType as z.core.$ZodType, rest.slice(1));
        return;
      case "object": {
        const shape = def.shape as Record<string, z.core.$ZodType>;
        if (rest.length === 0) {
          for (const key of Object.keys(shape)) keys.add(key);
          return;
        }
        const child = shape[String(rest[0])];
        if (child) visit(child, rest.slice(1));
        return;
      }
      default:
        return;
    }
  };
  visit(schema as unknown as z.core.$ZodType, path);
  return [...keys];
}

function typeName(expected: string): string {
  switch (expected) {
    case "int":
      return "an integer";
    case "array":
      return "an array";
    case "object":
      return "an object";
    case "nonoptional":
      return "a value";
    default:
      return `a ${expected}`;
  }
}

function boundText(origin: string, direction: ">" | "<", bound: number | bigint, inclusive: boolean | undefined): string {
  const op = `${direction}${inclusive === false ? "" : "="}`;
  if (origin === "array") return `an array with ${direction === ">" ? "at least" : "at most"} ${bound} items`;
  if (origin === "string") return `a string of ${direction === ">" ? "at least" : "at most"} ${bound} characters`;
  return `a number ${op} ${bound}`;
}
