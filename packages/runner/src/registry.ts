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

/** A plug-in factory: options from the config (everything but `name`) → the plug-in. */
export type PluginFactory<K extends PluginKind> = (options: Record<string, unknown>) => PluginTypes[K];

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
   * "evaluation.sampler"). Factory errors (ConcordError) get the field prefixed.
   */
  create<K extends PluginKind>(kind: K, spec: PluginSpec | string, field: string = kind): PluginTypes[K] {
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
    let plugin: unknown;
    try {
      plugin = entry.factory(validated);
    } catch (error) {
      if (error instanceof ConcordError) {
        throw new ConcordError(error.message.slice(error.field ? error.field.length + 2 : 0), {
          field: error.field ? `${field}.${error.field}` : field,
          cause: error,
        });
      }
      throw new ConcordError(`plug-in '${name}' from ${entry.source} failed to build: ${(error as Error)?.message ?? String(error)}`, {
        field,
        cause: error,
      });
    }
    checkShape(kind, name, entry.source, plugin, field);
    return plugin as PluginTypes[K];
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
