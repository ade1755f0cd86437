export { mlp, type MlpActivation, type MlpModel, type MlpOptions } from "./mlp.js";
export * from "./objectives.js";
