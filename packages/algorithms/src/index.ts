export { type AdaptOptions, type Adapted, adapt, type Execution } from "./adapt.js";
export { type MamlOptions, maml } from "./maml.js";
export { type ExecutionOption, meanPairwiseCosine } from "./meta-step.js";
export { type ReptileOptions, reptile } from "./reptile.js";
export { FAST_KERNELS, type FastKernelName, installFastKernels } from "./kernels/index.js";
export { createTaskPool, type TaskPool, type TaskPoolOptions } from "./parallel/task-pool.js";
