import {
  type AnyPluginDefinition,
  ConcordError,
  type DefinitionOf,
  type PluginDefinition,
  type PluginKind,
  type PluginLookup,
  type PluginTypes,
  type PresetDefinition,
  type StandardSchemaV1,
  type TaskFamilyDefinition,
} from "@concord/core";
import { PLUGIN_KINDS, type PluginSpec } from "./config.js";
import { describeValue, suggest, validateWithSchema } from "./schema-errors.js";

export type { PluginTypes } from "@concord/core";

/**
 * A plug-in factory: options from the config (everything but `name`) → the plug-in, or a promise of
 * it for plug-ins that must load something first (a data set); create those with `createAsync`.
 */
export type PluginFactory<K extends PluginKind> = (options: Record<string, unknown>) => PluginTypes[K] | Promise<PluginTypes[K]>;

export interface RegisterOptions {
  /** A Standard Schema (e.g. zod) for the options; unknown or ill-typed options are then refused before the factory runs. */
  readonly options?: StandardSchemaV1;
  /** Where the plug-in came from (a plug-in file), shown in errors. Default "built-in". */
  readonly source?: string;
  /** One line for listings. */
  readonly description?: string;
}

interface Registration {
  readonly definition: PluginDefinition<PluginKind, unknown> & Partial<TaskFamilyDefinition<unknown>>;
  readonly source: string;
}

/** A preset and the task family (and its source) that offers it. */
export interface RegisteredPreset extends PresetDefinition {
  readonly family: string;
  readonly source: string;
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
 * Names → plug-in definitions, per kind, so that configs and the CLI can name plug-ins.
 * `define` / `register` refuse a duplicate name (they never overwrite); `create` validates options
 * with the definition's Standard Schema and checks the shape of what `create` returns, with errors
 * naming the config field and the plug-in's source. Task families also bring presets, a clean
 * evaluation variant and report panels (see TaskFamilyDefinition).
 */
export class Registry implements PluginLookup {
  readonly #entries = new Map<PluginKind, Map<string, Registration>>(PLUGIN_KINDS.map((kind) => [kind, new Map()]));

  /** Registers a typed plug-in definition (what plug-in modules default-export). */
  define(definition: AnyPluginDefinition, source = "built-in"): void {
    if (definition === null || typeof definition !== "object") {
      throw new ConcordError(`expected a plug-in definition { kind, name, create }, got ${describeValue(definition)}`, { field: source });
    }
    const kind = definition.kind as PluginKind;
    const entries = this.#kindEntries(kind, `${source}: kind`);
    const name = definition.name;
    if (typeof name !== "string" || name.length === 0) {
      throw new ConcordError(`expected a non-empty plug-in name, got ${describeValue(name)}`, { field: `${kind} plug-in from ${source}` });
    }
    if (typeof definition.create !== "function") {
      throw new ConcordError(`plug-in '${name}' from ${source} must be a factory function (options) => ${kind}, got ${describeValue(definition.create)}`, {
        field: kind,
      });
    }
    const schema = definition.options as unknown;
    if (schema !== undefined && typeof (schema as Partial<StandardSchemaV1>)?.["~standard"]?.validate !== "function") {
      throw new ConcordError(`plug-in '${name}' from ${source} has options that are not a Standard Schema (zod, valibot, …), got ${describeValue(schema)}`, {
        field: kind,
      });
    }
    const existing = entries.get(name);
    if (existing) {
      throw new ConcordError(`plug-in '${name}' from ${source} is already registered (from ${existing.source}); choose another name`, { field: kind });
    }
    if (kind === "tasks") this.#checkPresets(definition as TaskFamilyDefinition<unknown>, source);
    entries.set(name, { definition: definition as Registration["definition"], source });
  }

  /** Registers a factory under a name (the short form of `define`). */
  register<K extends PluginKind>(kind: K, name: string, factory: PluginFactory<K>, options: RegisterOptions = {}): void {
    this.define(
      {
        kind,
        name,
        create: factory as PluginFactory<PluginKind>,
        ...(options.options ? { options: options.options } : {}),
        ...(options.description ? { description: options.description } : {}),
      } as AnyPluginDefinition,
      options.source ?? "built-in",
    );
  }

  has(kind: PluginKind, name: string): boolean {
    return this.#kindEntries(kind, "kind").has(name);
  }

  names(kind: PluginKind): string[] {
    return [...this.#kindEntries(kind, "kind").keys()];
  }

  /** The definition registered under `name` (a task family for "tasks"), or undefined. */
  definition<K extends PluginKind>(kind: K, name: string): DefinitionOf<K> | undefined {
    return this.#kindEntries(kind, "kind").get(name)?.definition as never;
  }

  /** Every preset of every registered task family, in registration order. */
  presets(): RegisteredPreset[] {
    return [...this.#kindEntries("tasks", "kind").values()].flatMap(({ definition, source }) =>
      (definition.presets ?? []).map((preset) => ({ ...preset, family: definition.name, source })),
    );
  }

  /**
   * Creates the plug-in a config names. `field` is the config path used in errors (e.g. "weighting",
   * "evaluation.sampler"). Factory errors (ConcordError) get the field prefixed. A factory (or schema)
   * that returns a promise needs `createAsync`. `runtime` options (objects a config cannot hold, such
   * as a task pool) are added to the validated options; a factory that does not know them ignores them.
   */
  create<K extends PluginKind>(kind: K, spec: PluginSpec | string, field: string = kind, runtime?: Readonly<Record<string, unknown>>): PluginTypes[K] {
    const { entry, name, options } = this.#resolve(kind, spec, field);
    if (isThenable(options)) throw asyncError(name, entry.source, field, "validates its options");
    const created = build(entry, name, runtime ? { ...(options as object), ...runtime } : options, field);
    if (isThenable(created)) {
      (created as Promise<unknown>).catch(() => {}); // the caller is told below; do not leave an unhandled rejection
      throw asyncError(name, entry.source, field, "loads");
    }
    checkShape(kind, name, entry.source, created, field);
    return created as PluginTypes[K];
  }

  /** Like `create`, for factories that may return a promise (e.g. task families that load a data set). */
  async createAsync<K extends PluginKind>(kind: K, spec: PluginSpec | string, field: string = kind): Promise<PluginTypes[K]> {
    const { entry, name, options } = this.#resolve(kind, spec, field);
    return (await buildAsync(kind, entry, name, await options, field)) as PluginTypes[K];
  }

  /** The validated options of a task family as configured (what its evaluation variant and report panels start from). */
  async taskOptions(spec: PluginSpec, field = "tasks"): Promise<unknown> {
    return await this.#resolve("tasks", spec, field).options;
  }

  /** The held-out tasks of a run: the family's `evaluationOptions` applied to the validated training options (default: the same). */
  async createEvaluationTasks(spec: PluginSpec, field = "tasks"): Promise<PluginTypes["tasks"]> {
    const { entry, name, options } = this.#resolve("tasks", spec, field);
    const validated = await options;
    const clean = entry.definition.evaluationOptions ? entry.definition.evaluationOptions(validated) : validated;
    return (await buildAsync("tasks", entry, name, clean, field)) as PluginTypes["tasks"];
  }

  #resolve(kind: PluginKind, spec: PluginSpec | string, field: string): { entry: Registration; name: string; options: unknown } {
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
    const schema = entry.definition.options;
    return { entry, name, options: schema ? validateWithSchema(schema, options, field) : { ...options } };
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

  #checkPresets(family: TaskFamilyDefinition<unknown>, source: string): void {
    if (family.presets === undefined) return;
    const field = `tasks plug-in '${family.name}' from ${source}`;
    if (!Array.isArray(family.presets)) throw new ConcordError(`expected presets to be an array, got ${describeValue(family.presets)}`, { field });
    const taken = new Map(this.presets().map((preset) => [preset.name, preset]));
    for (const preset of family.presets) {
      if (typeof preset?.name !== "string" || typeof preset.description !== "string" || preset.config === null || typeof preset.config !== "object") {
        throw new ConcordError(`expected every preset to be { name, description, config }, got ${describeValue(preset)}`, { field });
      }
      const existing = taken.get(preset.name);
      if (existing) {
        throw new ConcordError(`preset '${preset.name}' is already offered by tasks '${existing.family}' (from ${existing.source}); choose another name`, {
          field,
        });
      }
      taken.set(preset.name, { ...preset, family: family.name, source });
    }
  }
}

function build(entry: Registration, name: string, options: unknown, field: string): unknown {
  try {
    return entry.definition.create(options);
  } catch (error) {
    throw factoryError(error, name, entry.source, field);
  }
}

async function buildAsync(kind: PluginKind, entry: Registration, name: string, options: unknown, field: string): Promise<unknown> {
  const created = build(entry, name, options, field);
  let plugin: unknown;
  try {
    plugin = await created;
  } catch (error) {
    throw factoryError(error, name, entry.source, field);
  }
  checkShape(kind, name, entry.source, plugin, field);
  return plugin;
}

function asyncError(name: string, source: string, field: string, what: string): ConcordError {
  return new ConcordError(`plug-in '${name}' from ${source} ${what} asynchronously; create it with createAsync()`, { field });
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

function isThenable(value: unknown): value is PromiseLike<unknown> {
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
