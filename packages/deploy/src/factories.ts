// What an export's names (model, objective, inner optimizer) resolve to: plug-in definitions, looked up
// in a registry the caller passes (the runner's, with its --plugin definitions) or in the definitions
// @concord/models and @concord/optimizers own (the same ones the runner's registry is built from).
import { type AnyPluginDefinition, ConcordError, type InnerOptimizer, type Model, type Objective, type PluginKind, type PluginLookup } from "@concord/core";
import { modelDefinitions, objectiveDefinitions } from "@concord/models";
import { innerOptimizerDefinitions } from "@concord/optimizers";
import type { NamedSpec } from "./format.js";

/** Builds a plug-in from the options saved in model.json. */
export type Factory<T> = (options: Readonly<Record<string, unknown>>) => T;

/** Where a loader finds the plug-ins an export names. */
export interface MetaModelFactories {
  /**
   * Plug-in definitions by kind and name, e.g. the runner's `createRegistry()` after `loadPlugins()`:
   * anything registered there loads. Default: Concord's own (DEFAULT_PLUGINS).
   */
  readonly plugins?: PluginLookup;
  /** Extra factories by name, without a definition (they take precedence over `plugins`). */
  readonly models?: Readonly<Record<string, Factory<Model>>>;
  readonly objectives?: Readonly<Record<string, Factory<Objective>>>;
  readonly innerOptimizers?: Readonly<Record<string, Factory<InnerOptimizer>>>;
}

/** A lookup over a list of definitions (the first of a kind and name wins; lists here have no duplicates). */
export function pluginLookup(definitions: readonly AnyPluginDefinition[]): PluginLookup {
  return {
    definition: (kind, name) => definitions.find((definition) => definition.kind === kind && definition.name === name) as never,
    names: (kind) => definitions.filter((definition) => definition.kind === kind).map((definition) => definition.name),
  };
}

/** Concord's models, objectives and inner optimizers, as their packages define them. */
export const DEFAULT_PLUGINS: PluginLookup = pluginLookup([
  ...modelDefinitions,
  ...objectiveDefinitions,
  ...innerOptimizerDefinitions,
] as AnyPluginDefinition[]);

/**
 * Creates the plug-in `spec` names: an extra factory of that name, else the definition `plugins`
 * holds, its options checked by the definition's schema first. `field` names the spec (e.g.
 * "model.json: concord.model"): an unknown name is a ConcordError at `field.name` listing the known
 * names; any refusal of the options (they come from an untrusted file) is a ConcordError at `field.options`.
 */
export function createFromSpec<T>(
  kind: PluginKind,
  spec: NamedSpec,
  plugins: PluginLookup,
  extra: Readonly<Record<string, Factory<T>>> | undefined,
  field: string,
): T {
  const factory = extra && Object.hasOwn(extra, spec.name) ? extra[spec.name] : undefined;
  const definition = factory ? undefined : plugins.definition(kind, spec.name);
  if (!factory && !definition) {
    const names = [...new Set([...plugins.names(kind), ...Object.keys(extra ?? {})])].map((name) => JSON.stringify(name)).join(", ");
    throw new ConcordError(
      `unknown name ${JSON.stringify(spec.name)}; known: ${names} (pass a registry holding it as \`plugins\`, or a factory, in the loader's options)`,
      {
        field: `${field}.name`,
      },
    );
  }
  try {
    if (factory) return factory(spec.options);
    const options = definition!.options ? validated(definition!.options, spec.options) : spec.options;
    const created = definition!.create(options as never);
    if (created instanceof Promise) throw new Error("its definition creates it asynchronously, which a loader does not wait for");
    return created as T;
  } catch (error) {
    throw new ConcordError(`${spec.name} refused these options: ${(error as Error)?.message ?? String(error)}`, { field: `${field}.options`, cause: error });
  }
}

/** The options as the definition's Standard Schema returns them, or an Error naming the first problem. */
function validated(schema: NonNullable<AnyPluginDefinition["options"]>, value: unknown): unknown {
  const result = schema["~standard"].validate(value);
  if (result instanceof Promise) throw new Error("its options schema is asynchronous, which a loader does not wait for");
  if (!result.issues) return result.value;
  const issue = result.issues[0]!;
  const path = (issue.path ?? []).map((segment) => String(typeof segment === "object" ? segment.key : segment)).join(".");
  throw new Error(`${path ? `${path}: ` : ""}${issue.message}`);
}
