import type {
  InnerOptimizer,
  MetaAlgorithm,
  Model,
  Objective,
  OuterOptimizer,
  TaskSampler,
  WeightingScheme,
} from "@concord/core";
import { ConcordError } from "@concord/core";
import type { z } from "zod";
import { PLUGIN_KINDS, type PluginKind, type PluginSpec } from "./config.js";
import { describeValue, parseWithSchema, suggest } from "./schema-errors.js";

/** What each kind of plug-in creates. */
export interface PluginTypes {
  weighting: WeightingScheme;
  algorithm: MetaAlgorithm;
  model: Model;
  tasks: TaskSampler;
  objective: Objective;
  innerOptimizer: InnerOptimizer;
  outerOptimizer: OuterOptimizer;
}

/**
 * A plug-in factory: options from the config (everything but `name`) → the plug-in, or a promise of
 * it for plug-ins that must load something first (a data set); create those with `createAsync`.
 */
export type PluginFactory<K extends PluginKind> = (options: Record<string, unknown>) => PluginTypes[K] | Promise<PluginTypes[K]>;

export interface RegisterOptions {
  /** A zod schema for the options; unknown or ill-typed options are then refused before the factory runs. */
  readonly options?: z.ZodType;
  /** Where the plug-in came from (a plug-in file), shown in errors. Default "built-in". */
  readonly source?: string;
  /** One line for listings. */
  readonly description?: string;
}

interface Registration {
  readonly factory: PluginFactory<PluginKind>;
  readonly options: z.ZodType | undefined;
  readonly source: string;
  readonly description: string | undefined;
}

/** The functions each kind must have, checked on every created plug-in. */
const REQUIRED_METHODS: Readonly<Record<PluginKind, readonly string[]>> = {
  weighting: ["weights"],
  algorithm: ["step"],
  model: ["init", "forward"],
  tasks: ["sample"],
  objective: ["loss"],
  innerOptimizer: ["init", "step"],
  outerOptimizer: ["apply", "getState", "setState", "dispose"],
};

/**
 * Names → plug-in factories, per kind, so that configs and the CLI can name plug-ins.
 * `register` refuses a duplicate name (it never overwrites); `create` validates options and checks
 * the shape of what the factory returns, with errors naming the config field and the plug-in's source.
 */
export class Registry {
  readonly #entries = new Map<PluginKind, Map<string, Registration>>(PLUGIN_KINDS.map((kind) => [kind, new Map()]));

  register<K extends PluginKind>(kind: K, name: string, factory: PluginFactory<K>, options: RegisterOptions = {}): void {
    const entries = this.#kindEntries(kind, "kind");
    const source = options.source ?? "built-in";
    if (typeof name !== "string" || name.length === 0) {
      throw new ConcordError(`expected a non-empty plug-in name, got ${describeValue(name)}`, { field: `${kind} plug-in from ${source}` });
    }
    if (typeof factory !== "function") {
      throw new ConcordError(`plug-in '${name}' from ${source} must be a factory function (options) => ${kind}, got ${describeValue(factory)}`, {
        field: kind,
      });
    }
    const existing = entries.get(name);
    if (existing) {
      throw new ConcordError(`plug-in '${name}' from ${source} is already registered (from ${existing.source}); choose another name`, { field: kind });
    }
    entries.set(name, { factory: factory as PluginFactory<PluginKind>, options: options.options, source, description: options.description });
  }

  has(kind: PluginKind, name: string): boolean {
    return this.#kindEntries(kind, "kind").has(name);
  }

  names(kind: PluginKind): string[] {
    return [...this.#kindEntries(kind, "kind").keys()];
  }

  /**
   * Creates the plug-in a config names. `field` is the config path used in errors (e.g. "weighting",
   * "evaluation.sampler"). Factory errors (ConcordError) get the field prefixed. A factory that
   * returns a promise needs `createAsync`.
   */
  create<K extends PluginKind>(kind: K, spec: PluginSpec | string, field: string = kind): PluginTypes[K] {
    const { entry, name, created } = this.#build(kind, spec, field);
    if (isThenable(created)) {
      (created as Promise<unknown>).catch(() => {}); // the caller is told below; do not leave an unhandled rejection
      throw new ConcordError(`plug-in '${name}' from ${entry.source} loads asynchronously; create it with createAsync()`, { field });
    }
    checkShape(kind, name, entry.source, created, field);
    return created as PluginTypes[K];
  }

  /** Like `create`, for factories that may return a promise (e.g. task families that load a data set). */
  async createAsync<K extends PluginKind>(kind: K, spec: PluginSpec | string, field: string = kind): Promise<PluginTypes[K]> {
    const { entry, name, created } = this.#build(kind, spec, field);
    let plugin: unknown;
    try {
      plugin = await created;
    } catch (error) {
      throw factoryError(error, name, entry.source, field);
    }
    checkShape(kind, name, entry.source, plugin, field);
    return plugin as PluginTypes[K];
  }

  #build(kind: PluginKind, spec: PluginSpec | string, field: string): { entry: Registration; name: string; created: unknown } {
    const { name, options } = typeof spec === "string" ? { name: spec, options: {} } : spec;
    const entry = this.#kindEntries(kind, field).get(name);
    if (!entry) {
      const known = this.names(kind);
      const hint = suggest(name, known);
      throw new ConcordError(
        `expected one of ${known.map((n) => `"${n}"`).join(", ")}, got ${JSON.stringify(name)}${hint ? ` (did you mean "${hint}"?)` : ""}`,
        { field },
      );
    }
    const validated = entry.options ? (parseWithSchema(entry.options, options, field) as Record<string, unknown>) : { ...options };
    try {
      return { entry, name, created: entry.factory(validated) };
    } catch (error) {
      throw factoryError(error, name, entry.source, field);
    }
  }

  #kindEntries(kind: PluginKind, field: string): Map<string, Registration> {
    const entries = this.#entries.get(kind);
    if (!entries) {
      const hint = suggest(String(kind), PLUGIN_KINDS);
      throw new ConcordError(`expected a plug-in kind (${PLUGIN_KINDS.join(", ")}), got ${describeValue(kind)}${hint ? ` (did you mean "${hint}"?)` : ""}`, {
        field,
      });
    }
    return entries;
  }
}

/** A factory's error, with the config field prefixed (ConcordError) or the plug-in named (anything else). */
function factoryError(error: unknown, name: string, source: string, field: string): ConcordError {
  if (error instanceof ConcordError) {
    return new ConcordError(error.message.slice(error.field ? error.field.length + 2 : 0), {
      field: error.field ? `${field}.${error.field}` : field,
      cause: error,
    });
  }
  return new ConcordError(`plug-in '${name}' from ${source} failed to build: ${(error as Error)?.message ?? String(error)}`, { field, cause: error });
}

function isThenable(value: unknown): boolean {
  return value !== null && typeof value === "object" && typeof (value as { then?: unknown }).then === "function";
}

/** Checks that a created plug-in has a string `name` and the functions its kind requires. */
export function checkShape(kind: PluginKind, name: string, source: string, plugin: unknown, field: string = kind): void {
  if (plugin === null || typeof plugin !== "object") {
    throw new ConcordError(`plug-in '${name}' from ${source} returned ${describeValue(plugin)}, expected a ${kind} object`, { field });
  }
  const record = plugin as Record<string, unknown>;
  if (typeof record.name !== "string" || record.name.length === 0) {
    throw new ConcordError(`plug-in '${name}' from ${source} has no string name`, { field });
  }
  for (const method of REQUIRED_METHODS[kind]) {
    if (typeof record[method] !== "function") {
      throw new ConcordError(`plug-in '${name}' from ${source} has no ${method}() function`, { field });
    }
  }
}
