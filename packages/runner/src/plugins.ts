import { access } from "node:fs/promises";
import { resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { type AnyPluginDefinition, ConcordError } from "@concord/core";
import { PLUGIN_KINDS, type PluginKind } from "./config.js";
import type { PluginFactory, Registry } from "./registry.js";
import { describeValue, suggest } from "./schema-errors.js";

/**
 * What a plug-in module default-exports: an array of typed definitions (with an options schema,
 * and for task families presets, an evaluation variant and report panels),
 *
 *     export default [{ kind: "weighting", name: "my-cosine-agreement", options: z.strictObject({ eps: z.number().optional() }),
 *                       create: (options) => cosineAgreement(options) }];
 *
 * or, the short form, kinds mapping names to factories (options unchecked):
 *
 *     export default { weighting: { "my-cosine-agreement": (options) => cosineAgreement(options) } };
 *
 * Kinds: weighting, algorithm, model, tasks, objective, innerOptimizer, outerOptimizer.
 */
export type PluginModule = readonly AnyPluginDefinition[] | AnyPluginDefinition | { readonly [K in PluginKind]?: Readonly<Record<string, PluginFactory<K>>> };

/** Imports each plug-in file (relative to `cwd`) and registers what it exports; errors name the file. */
export async function loadPlugins(registry: Registry, files: readonly string[], cwd: string = process.cwd()): Promise<void> {
  for (const file of files) await loadPlugin(registry, file, cwd);
}

export async function loadPlugin(registry: Registry, file: string, cwd: string = process.cwd()): Promise<void> {
  const path = resolve(cwd, file);
  try {
    await access(path);
  } catch {
    throw new ConcordError(`plug-in file not found (looked at ${path})`, { field: file });
  }
  let module: { default?: unknown };
  try {
    module = (await import(pathToFileURL(path).href)) as { default?: unknown };
  } catch (error) {
    throw new ConcordError(`plug-in file could not be imported: ${(error as Error)?.message ?? String(error)}`, { field: file, cause: error });
  }
  registerPluginModule(registry, module.default, file);
}

/** Registers the definitions (or factories) of a plug-in module's default export (see PluginModule). */
export function registerPluginModule(registry: Registry, exported: unknown, source: string): void {
  if (exported === null || typeof exported !== "object") {
    throw new ConcordError(
      `expected a default export [{ kind, name, options?, create }, ...] or { weighting: { "<name>": (options) => scheme }, ... }, got ${describeValue(exported)}`,
      { field: source },
    );
  }
  if (Array.isArray(exported) || isDefinition(exported)) {
    for (const definition of Array.isArray(exported) ? exported : [exported]) registry.define(definition as AnyPluginDefinition, source);
    return;
  }
  for (const [kind, factories] of Object.entries(exported)) {
    if (!(PLUGIN_KINDS as readonly string[]).includes(kind)) {
      const hint = suggest(kind, PLUGIN_KINDS);
      throw new ConcordError(`unknown plug-in kind "${kind}"${hint ? `; did you mean "${hint}"?` : ""} (kinds: ${PLUGIN_KINDS.join(", ")})`, { field: source });
    }
    if (factories === null || typeof factories !== "object") {
      throw new ConcordError(`expected ${kind} to map names to factories, got ${describeValue(factories)}`, { field: source });
    }
    for (const [name, factory] of Object.entries(factories)) {
      registry.register(kind as PluginKind, name, factory as PluginFactory<PluginKind>, { source });
    }
  }
}

function isDefinition(value: object): boolean {
  return typeof (value as { kind?: unknown }).kind === "string" && typeof (value as { create?: unknown }).create === "function";
}
