export { sgd, type Sgd, type SgdOptions, type SgdState } from "./sgd.js";
export { adam, type Adam, type AdamOptions } from "./adam.js";
export { innerOptimizerConformanceChecks, type ConformanceCheck, type InnerOptimizerConformanceOptions, type InnerOptimizerSource } from "./conformance-checks.js";
