export { mlp, type MlpActivation, type MlpModel, type MlpOptions } from "./mlp.js";
