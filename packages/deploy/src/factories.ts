import { ConcordError, type InnerOptimizer, type Model, type Objective } from "@concord/core";
import { convNet, meanSquaredError, mlp, softmaxCrossEntropy } from "@concord/models";
import { sgd } from "@concord/optimizers";
import type { NamedSpec } from "./format.js";

/** Builds a plug-in from the options saved in model.json. */
export type Factory<T> = (options: Readonly<Record<string, unknown>>) => T;

/** Extra factories by name (they take precedence over the built-in ones of the same name). */
export interface MetaModelFactories {
  readonly models?: Readonly<Record<string, Factory<Model>>>;
  readonly objectives?: Readonly<Record<string, Factory<Objective>>>;
  readonly innerOptimizers?: Readonly<Record<string, Factory<InnerOptimizer>>>;
}

/** The names configs use for Concord's own models, objectives and inner optimizers. */
export const BUILTIN_FACTORIES = {
  models: {
    mlp: (options) => mlp(options as unknown as Parameters<typeof mlp>[0]),
    "conv-net": (options) => convNet(options as unknown as Parameters<typeof convNet>[0]),
  },
  objectives: {
    mse: () => meanSquaredError(),
    "cross-entropy": () => softmaxCrossEntropy(),
  },
  innerOptimizers: {
    sgd: (options) => sgd(options as unknown as Parameters<typeof sgd>[0]),
  },
} satisfies Required<MetaModelFactories>;

/**
 * Creates the plug-in `spec` names. `field` names the spec (e.g. "model.json: concord.model"): an
 * unknown name is a ConcordError at `field.name` listing the known names; any error of the factory
 * (its options come from an untrusted file) is a ConcordError at `field.options`.
 */
export function createFromSpec<T>(spec: NamedSpec, builtins: Readonly<Record<string, Factory<T>>>, extra: Readonly<Record<string, Factory<T>>> | undefined, field: string): T {
  const known = { ...builtins, ...extra };
  const factory = Object.hasOwn(known, spec.name) ? known[spec.name] : undefined;
  if (!factory) {
    const names = Object.keys(known).map((name) => JSON.stringify(name)).join(", ");
    throw new ConcordError(`unknown name ${JSON.stringify(spec.name)}; known: ${names} (pass your own factory in the loader's options)`, { field: `${field}.name` });
  }
  try {
    return factory(spec.options);
  } catch (error) {
    throw new ConcordError(`${spec.name} refused these options: ${(error as Error)?.message ?? String(error)}`, { field: `${field}.options`, cause: error });
  }
}
