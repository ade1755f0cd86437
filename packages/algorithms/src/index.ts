export { type AdaptOptions, type Adapted, adapt, type Execution } from "./adapt.js";
export { type MamlOptions, maml } from "./maml.js";
export { type ExecutionOption, meanPairwiseCosine } from "./meta-step.js";
export { type ReptileOptions, reptile } from "./reptile.js";
export type { TaskPool } from "./parallel/pool-contract.js";
