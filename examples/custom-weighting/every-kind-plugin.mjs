// One third-party plug-in of every kind, each a single definition (kind, name, options schema,
// create, description; a model also its shape, a task family its presets). The test
// src/every-kind-plugin.test.ts names only these in a config and runs it in-process, through the
// concord CLI, on a `concord worker` through Redis, and through an export and its loader.
// Each wraps a Concord built-in under a name of its own, so its numbers can be checked against the built-in's.
import { algorithmDefinitions } from "@concord/algorithms";
import { modelDefinitions, objectiveDefinitions } from "@concord/models";
import { innerOptimizerDefinitions, outerOptimizerDefinitions } from "@concord/optimizers";
import { sinusoidFamily } from "@concord/tasks";
import { weightingDefinitions } from "@concord/weighting";

const builtIn = (definitions, name) => definitions.find((definition) => definition.name === name);
/** The built-in `name` under `newName`; what it creates reports `newName` too. */
const renamed = (definition, newName, extra = {}) => ({
  ...definition,
  ...extra,
  name: newName,
  description: `third-party ${definition.kind} (wraps ${definition.name})`,
  create: (options) => ({ ...definition.create(options), name: newName }),
});

export default [
  renamed(builtIn(weightingDefinitions, "agreement"), "my-agreement"),
  renamed(builtIn(algorithmDefinitions, "maml"), "my-maml"),
  renamed(builtIn(modelDefinitions, "mlp"), "my-mlp"),
  renamed(sinusoidFamily, "my-sinusoid", { presets: [] }),
  renamed(builtIn(objectiveDefinitions, "mse"), "my-mse"),
  renamed(builtIn(innerOptimizerDefinitions, "sgd"), "my-sgd"),
  renamed(builtIn(outerOptimizerDefinitions, "adam"), "my-adam"),
];
