export { sinusoid, sinusoidCurve, type NumberRange, type ResolvedSinusoidOptions, type SinusoidCorruption, type SinusoidOptions, type SinusoidSampler, type SinusoidTaskInfo } from "./sinusoid.js";
