// installConcord / uninstallConcord: every change Concord makes to TensorFlow.js, in one call, and
// its exact undo.
import { concordGradientsRegistered, registerConcordGradients } from "./gradients/register.js";
import { registerAdamKernel } from "./kernels/adam-update/reference.js";
import { type FastKernelName, installFastKernels } from "./kernels/index.js";
import { type NativeKernels, nativeKernels, setNativeKernels } from "./kernels/native-kernels.js";
import { registerSgdStepKernel } from "./kernels/sgd-step/reference.js";
import { restoreAll } from "./registry-journal.js";

export interface InstallOptions {
  /** Kernel replacements and engine patches to leave out (benchmark ablations); the default installs all of them. */
  readonly skipKernels?: readonly FastKernelName[];
  /**
   * Native kernels for the wasm kernel replacements (loadNativeKernels() from @concord/backend-native),
   * or undefined to turn them off. Absent: left as they are.
   */
  readonly native?: NativeKernels | undefined;
}

/** What installConcord() put in place. */
export interface Installation {
  /** The kernel replacements and engine patches installed (those whose backend is loaded in this process), in INSTALL_ORDER. */
  readonly fastKernels: readonly FastKernelName[];
  /** The native kernels the wasm replacements call (their description), if any. */
  readonly native: string | undefined;
}

/**
 * Installs, synchronously, everything Concord changes in TensorFlow.js, for the backends loaded in
 * this process: Concord's gradient set (and the kernels it adds), the fast cpu/wasm kernels with
 * the engine patches, and the fused Adam and SGD-step kernels. Idempotent; call it again after loading another
 * backend. useBackend() calls it after choosing the backend; call it yourself only when you set tf's
 * backend yourself. uninstallConcord() undoes it exactly.
 */
export function installConcord(options: InstallOptions = {}): Installation {
  if ("native" in options) setNativeKernels(options.native);
  registerConcordGradients();
  // The fast max-pool and filter-gradient kernels wrap the kernels the gradient set registers.
  const fastKernels = installFastKernels(options.skipKernels ?? []);
  registerAdamKernel();
  registerSgdStepKernel();
  return { fastKernels, native: nativeKernels()?.description };
}

/**
 * Puts back exactly what TensorFlow.js had before Concord's first change: the previous gradients
 * (tfjs's own where it had registered them, none where it had not), the previous kernels, and
 * Engine.clone. Meta-algorithms then refuse to differentiate until installConcord() runs again.
 */
export function uninstallConcord(): void {
  restoreAll();
}

/** True when Concord's whole gradient set is the one registered in tfjs now (a pure check). */
export function isConcordInstalled(): boolean {
  return concordGradientsRegistered();
}
