// The weighting schemes under the names configs and the CLI use: name, options schema, factory,
// description. Every registry (the runner's, a worker's, an export loader's) is built from these.
import type { PluginDefinition } from "@concord/core";
import { z } from "zod";
import { type CosineAgreementOptions, cosineAgreement } from "./cosine-agreement.js";
import { type GradientAgreementOptions, gradientAgreement } from "./gradient-agreement.js";
import { type LossSoftmaxOptions, lossSoftmax } from "./loss-softmax.js";
import { type TailRiskOptions, tailRisk } from "./tail-risk.js";
import { type TrMamlOptions, trMaml } from "./tr-maml.js";
import { uniform } from "./uniform.js";

const finite = z.number().refine(Number.isFinite, "a finite number");

/** Concord's weighting schemes, in the order listings show them. */
export const weightingDefinitions: readonly PluginDefinition<"weighting", unknown>[] = [
  { kind: "weighting", name: "uniform", options: z.strictObject({}), description: "w_i = 1/N", create: () => uniform() },
  {
    kind: "weighting",
    name: "agreement",
    options: z.strictObject({ eps: finite.min(0).optional() }),
    description: "gradient agreement: w_i ∝ Σ_j g_iᵀ g_j, normalised by Σ_k |Σ_j g_kᵀ g_j|",
    create: (options: GradientAgreementOptions) => gradientAgreement(options),
  },
  {
    kind: "weighting",
    name: "cosine-agreement",
    options: z.strictObject({ eps: finite.min(0).optional() }),
    description: "gradient agreement on unit vectors: w_i ∝ Σ_j cos(g_i, g_j), normalised by Σ_k |Σ_j cos(g_k, g_j)|",
    create: (options: CosineAgreementOptions) => cosineAgreement(options),
  },
  {
    kind: "weighting",
    name: "tail-risk",
    options: z.strictObject({ alpha: finite.gt(0).max(1) }),
    description: "CVaR_alpha: w_i = 1/k on the k = max(1, ⌈alpha·N⌉) tasks with the largest query loss, 0 elsewhere",
    create: (options: TailRiskOptions) => tailRisk(options),
  },
  {
    kind: "weighting",
    name: "loss-softmax",
    options: z.strictObject({ temperature: finite.gt(0).optional() }),
    description: "w = softmax(L / temperature) over the tasks' query losses (temperature default 1)",
    create: (options: LossSoftmaxOptions) => lossSoftmax(options),
  },
  {
    // TR-MAML keeps a distribution p over the sampler's task groups (saved with getState/setState).
    kind: "weighting",
    name: "tr-maml",
    options: z.strictObject({ groups: z.number().int().min(1), lr: finite.min(0) }),
    description: "TR-MAML: w_i = p_g(i) / (n_g(i) Σ_present p), then p ← Π_Δ(p + lr·mean group loss); needs a sampler with task groups",
    create: (options: TrMamlOptions) => trMaml(options),
  },
];
