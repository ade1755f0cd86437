export { sgd, type Sgd, type SgdOptions, type SgdState } from "./sgd.js";
export { adam, type Adam, type AdamOptions } from "./adam.js";
export {
  innerOptimizerConformanceChecks,
  type ConformanceCheck,
  type InnerOptimizerConformanceOptions,
  type InnerOptimizerSource,
} from "./conformance-checks.js";
export { META_SGD_RATE_PREFIX, metaSgd, type MetaSgd, type MetaSgdOptions, type MetaSgdState } from "./meta-sgd.js";
export { innerOptimizerDefinitions, outerOptimizerDefinitions } from "./definitions.js";
