export { uniform } from "./uniform.js";
export { gradientAgreement, type GradientAgreementOptions } from "./gradient-agreement.js";
export { checkWeights } from "@concord/core";
export { expectUpdates } from "./updates.js";
export {
  weightingConformanceChecks,
  type ConformanceCheck,
  type WeightingConformanceOptions,
  type WeightingSchemeSource,
} from "./conformance-checks.js";
