import { algorithmDefinitions } from "@concord/algorithms";
import type { AnyPluginDefinition } from "@concord/core";
import { modelDefinitions, objectiveDefinitions } from "@concord/models";
import { innerOptimizerDefinitions, outerOptimizerDefinitions } from "@concord/optimizers";
import { sinusoidFamily } from "@concord/tasks";
import { omniglotFamily } from "@concord/tasks/node";
import { weightingDefinitions } from "@concord/weighting";
import { Registry } from "./registry.js";

/**
 * Concord's own plug-in definitions, each owned by its package (name, options schema, factory,
 * description). The only runner file that names the packages plug-ins come from; it names no
 * plug-in itself.
 */
export const BUILTIN_DEFINITIONS: readonly AnyPluginDefinition[] = [
  ...weightingDefinitions,
  ...algorithmDefinitions,
  ...modelDefinitions,
  sinusoidFamily as AnyPluginDefinition,
  omniglotFamily as AnyPluginDefinition,
  ...objectiveDefinitions,
  ...innerOptimizerDefinitions,
  ...outerOptimizerDefinitions,
] as readonly AnyPluginDefinition[];

/** A registry holding Concord's built-in plug-ins. */
export function createRegistry(): Registry {
  const registry = new Registry();
  for (const definition of BUILTIN_DEFINITIONS) registry.define(definition);
  return registry;
}
