export { uniform } from "./uniform.js";
export { gradientAgreement, type GradientAgreementOptions } from "./gradient-agreement.js";
export { cosineAgreement, type CosineAgreementOptions } from "./cosine-agreement.js";
export { tailRisk, tailCount, type TailRiskOptions } from "./tail-risk.js";
export { lossSoftmax, type LossSoftmaxOptions } from "./loss-softmax.js";
export { trMaml, type TrMamlOptions, type StatefulWeightingScheme } from "./tr-maml.js";
export { projectOntoSimplex } from "./simplex-projection.js";
export { checkWeights } from "@concord/core";
export { expectUpdates } from "./updates.js";
export { readLosses } from "./losses.js";
export { expectGroups } from "./groups.js";
export {
  weightingConformanceChecks,
  type ConformanceCheck,
  type WeightingConformanceOptions,
  type WeightingSchemeSource,
} from "./conformance-checks.js";
export { weightingDefinitions } from "./definitions.js";
