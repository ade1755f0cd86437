import "./gradients/register.js";

export { ConcordError, expect, expectInteger, expectNumber } from "./errors.js";
export { createRng, type RngState } from "./rng.js";
export * from "./params.js";
export type * from "./types.js";
export { registerConcordGradients } from "./gradients/register.js";
export { stopGradient } from "./gradients/stop_gradient.js";
export type * from "./plugins.js";
