// The inner and outer optimizers under the names configs and the CLI use: name, options schema,
// factory, description. Every registry is built from these.
import type { PluginDefinition } from "@concord/core";
import { z } from "zod";
import { type AdamOptions, adam } from "./adam.js";
import { type MetaSgdOptions, metaSgd } from "./meta-sgd.js";
import { type SgdOptions, sgd } from "./sgd.js";

const finite = z.number().refine(Number.isFinite, "a finite number");
const lr = finite.gt(0);

/** Concord's inner-loop optimizers (differentiable). */
export const innerOptimizerDefinitions: readonly PluginDefinition<"innerOptimizer", unknown>[] = [
  { kind: "innerOptimizer", name: "sgd", options: z.strictObject({ lr }), description: "θ ← θ − α ∇L", create: (options: SgdOptions) => sgd(options) },
  {
    kind: "innerOptimizer",
    name: "meta-sgd",
    options: z.strictObject({ lr }),
    description: "Meta-SGD: θ ← θ − a ⊙ ∇L, per-element rates a (parameters lr/<name>, initialised to lr) learned by the outer loop",
    create: (options: MetaSgdOptions) => metaSgd(options),
  },
];

/** Concord's outer (meta-level) optimizers, with exact saved state. */
export const outerOptimizerDefinitions: readonly PluginDefinition<"outerOptimizer", unknown>[] = [
  { kind: "outerOptimizer", name: "sgd", options: z.strictObject({ lr }), description: "θ ← θ − β d", create: (options: SgdOptions) => sgd(options) },
  {
    kind: "outerOptimizer",
    name: "adam",
    options: z.strictObject({ lr, beta1: finite.min(0).lt(1).optional(), beta2: finite.min(0).lt(1).optional(), epsilon: finite.min(0).optional() }),
    description: "Adam (PyTorch's update)",
    create: (options: AdamOptions) => adam(options),
  },
];
