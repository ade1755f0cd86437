// The plug-in definition the CLI loads (plugin.mjs): a name, a description, an options schema, a factory.
import type { PluginDefinition } from "@concord/core";
import { z } from "zod";
import { type CosineAgreementOptions, cosineAgreement } from "./cosine-agreement.js";

/**
 * `"weighting": { "name": "cosine-agreement", "eps": 1e-6 }`. The schema (any Standard Schema; zod
 * here) makes the registry refuse unknown or ill-typed options before the factory runs, with the
 * same messages as Concord's own plug-ins ("weighting.eps: expected a number >= 0, got -1").
 */
export const cosineAgreementPlugin: PluginDefinition<"weighting", CosineAgreementOptions> = {
  kind: "weighting",
  name: "cosine-agreement",
  description: "gradient agreement on cosine similarities: w_i ∝ Σ_j cos(g_i, g_j)",
  options: z.strictObject({ eps: z.number().min(0).optional() }),
  create: (options) => cosineAgreement(options),
};
