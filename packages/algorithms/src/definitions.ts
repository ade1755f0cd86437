// The meta-algorithms under the names configs and the CLI use: name, options schema, factory,
// description. Every registry is built from these.
import type { PluginDefinition } from "@concord/core";
import { z } from "zod";
import { type MamlOptions, maml } from "./maml.js";
import { protoNet } from "./proto-net.js";
import { type ReptileOptions, reptile } from "./reptile.js";

const innerSteps = z.number().int().min(0).optional();
const execution = z.enum(["auto", "batched", "per-task"]).optional();
/** Batched execution: tasks per batched pass (bounds memory; the CNN's second-order tape grows with it). */
const chunkSize = z.number().int().min(1).optional();
/** Which parameters the inner loop adapts: "all", "head" (ANIL) or parameter names (checked against the model at the first step). */
const adapt = z.union([z.enum(["all", "head"]), z.array(z.string().min(1)).min(1)]).optional();
/** false skips the three extra loss passes per task (losses before/after); the weighting diagnostics stay. */
const diagnostics = z.boolean().optional();

/** Concord's meta-algorithms. */
export const algorithmDefinitions: readonly PluginDefinition<"algorithm", unknown>[] = [
  {
    kind: "algorithm",
    name: "maml",
    options: z.strictObject({ order: z.union([z.literal(1), z.literal(2)]).optional(), innerSteps, execution, chunkSize, adapt, diagnostics }),
    description: 'MAML (order 2 differentiates through the inner loop; order 1 is FOMAML); adapt: "head" is ANIL',
    create: (options: MamlOptions) => maml(options),
  },
  {
    kind: "algorithm",
    name: "fomaml",
    options: z.strictObject({ innerSteps, execution, chunkSize, adapt, diagnostics }),
    description: "first-order MAML",
    create: (options: MamlOptions) => maml({ ...options, order: 1 }),
  },
  {
    kind: "algorithm",
    name: "reptile",
    options: z.strictObject({ innerSteps, execution, chunkSize, adapt, diagnostics }),
    description: "Reptile: d = Σ_i w_i (θ − θ'_i)",
    create: (options: ReptileOptions) => reptile(options),
  },
  {
    kind: "algorithm",
    name: "proto-net",
    options: z.strictObject({}),
    description:
      "Prototypical Networks: logits −‖f(x) − c_k‖² to class-mean support embeddings c_k, no inner loop; g_i = ∇L_i (one unit step), d = Σ_i w_i ∇L_i. Model: an embedding (conv-net ways 0)",
    create: () => protoNet(),
  },
];
