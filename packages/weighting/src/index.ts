export { uniform } from "./uniform.js";
export { gradientAgreement, type GradientAgreementOptions } from "./gradient-agreement.js";
export { checkWeights } from "./check-weights.js";
export { expectUpdates } from "./updates.js";
export {
  weightingConformanceChecks,
  type ConformanceCheck,
  type WeightingConformanceOptions,
  type WeightingSchemeSource,
} from "./conformance-checks.js";
