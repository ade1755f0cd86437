import { installLeanClone } from "./lean-clone.js";
import { installLeanEndScope } from "./lean-end-scope.js";
import { installLeanGradients } from "./lean-gradients.js";
import { installLeanRunKernel } from "./lean-run-kernel.js";

/**
 * Concord's engine patches, in installation order. An engine patch changes how tfjs's engine runs
 * (how it clones a saved tensor, filters the gradient tape, closes a scope, dispatches a kernel), not
 * what any kernel computes: it replaces one method of the Engine object (through the registry journal,
 * so uninstallConcord() puts tfjs's back), and every value stays bit-identical with or without it.
 * A kernel replacement (FAST_KERNELS) registers a kernel instead. Each returns false where the
 * engine lacks what it relies on (another tfjs-core version): tfjs's own method then stays.
 */
export const ENGINE_PATCHES = {
  "lean-clone": installLeanClone,
  "lean-gradients": installLeanGradients,
  "lean-end-scope": installLeanEndScope,
  "lean-run-kernel": installLeanRunKernel,
} as const;

export type EnginePatchName = keyof typeof ENGINE_PATCHES;
