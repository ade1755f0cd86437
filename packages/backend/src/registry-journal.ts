// The one place that writes to TensorFlow.js's kernel and gradient registries and patches its engine.
// Every change is recorded with what tfjs had before it (the first time a slot is touched), so
// uninstallConcord() can put back exactly the previous state, and an installer can ask whether the
// kernel currently registered is still the one it put there (instead of a module-level flag that
// would go stale after an uninstall, or after someone else replaced the kernel).
import * as tf from "@tensorflow/tfjs-core";
import type { GradConfig, KernelConfig } from "@tensorflow/tfjs-core";

interface Replacement<T> {
  /** What tfjs had before Concord first touched this slot (undefined: nothing). */
  readonly original: T | undefined;
  /** What Concord registered last, and which installer did it. */
  current: T;
  owner: string;
}

const kernels = new Map<string, Replacement<KernelConfig>>();
const gradients = new Map<string, Replacement<GradConfig>>();

const kernelKey = (kernelName: string, backendName: string) => `${backendName}_${kernelName}`;

/** Registers `config` in place of whatever is registered for its kernel and backend. */
export function replaceKernel(config: KernelConfig, owner: string): void {
  const key = kernelKey(config.kernelName, config.backendName);
  const previous = tf.getKernel(config.kernelName, config.backendName);
  if (previous) tf.unregisterKernel(config.kernelName, config.backendName);
  tf.registerKernel(config);
  const entry = kernels.get(key);
  if (entry) {
    entry.current = config;
    entry.owner = owner;
  } else {
    kernels.set(key, { original: previous, current: config, owner });
  }
}

/** The installer whose kernel is registered now for this kernel and backend, if it is one of Concord's. */
export function kernelOwner(kernelName: string, backendName: string): string | undefined {
  const entry = kernels.get(kernelKey(kernelName, backendName));
  return entry && tf.getKernel(kernelName, backendName) === entry.current ? entry.owner : undefined;
}

/** Registers `config` as the gradient of its kernel, replacing any other. */
export function replaceGradient(config: GradConfig): void {
  const entry = gradients.get(config.kernelName);
  if (entry) {
    entry.current = config;
  } else {
    gradients.set(config.kernelName, { original: tf.getGradient(config.kernelName), current: config, owner: "gradients" });
  }
  tf.registerGradient(config);
}

/** Engine methods Concord replaces with own properties of the engine object (shadowing Engine.prototype's). */
export type EngineMethodName = "clone" | "gradients" | "runKernel" | "endScope";

/** Per patched method: the engine's own property before Concord patched it (`hadOwn` false: it came from the prototype). */
const enginePatches = new Map<EngineMethodName, { readonly hadOwn: boolean; readonly original: unknown; patched: unknown }>();

/** Replaces tf.engine()[name] (an own property of the engine object, shadowing Engine.prototype's). */
export function patchEngine(name: EngineMethodName, patched: (...args: never[]) => unknown): void {
  const engine = tf.engine() as unknown as Record<string, unknown>;
  const entry = enginePatches.get(name);
  if (entry) entry.patched = patched;
  else enginePatches.set(name, { hadOwn: Object.hasOwn(engine, name), original: engine[name], patched });
  engine[name] = patched;
}

/** True while the engine's `name` is the one Concord installed. */
export function enginePatched(name: EngineMethodName): boolean {
  const entry = enginePatches.get(name);
  return entry !== undefined && (tf.engine() as unknown as Record<string, unknown>)[name] === entry.patched;
}

/**
 * The native kernels (an addon from @concord/backend-native) that Concord's wasm kernel replacements
 * call while it is set; undefined: they use XNNPACK and gemm.wat. Part of the journal so that
 * restoreAll() turns it off with everything else.
 */
let nativeProvider: unknown;

/** Routes the wasm kernel replacements to `provider` (undefined: back to wasm-only kernels). */
export function setNativeProvider(provider: unknown): void {
  nativeProvider = provider;
}

/** The native kernels set by setNativeProvider(), if any. */
export function nativeProviderOf<T>(): T | undefined {
  return nativeProvider as T | undefined;
}

/** True when Concord has changed anything that restoreAll() would put back. */
export function hasChanges(): boolean {
  return kernels.size > 0 || gradients.size > 0 || enginePatches.size > 0 || nativeProvider !== undefined;
}

/** Puts back every kernel, gradient and patched engine method as they were before Concord's first change. */
export function restoreAll(): void {
  for (const [key, { original, current }] of kernels) {
    const { kernelName, backendName } = current;
    if (tf.getKernel(kernelName, backendName)) tf.unregisterKernel(kernelName, backendName);
    if (original) tf.registerKernel(original);
    kernels.delete(key);
  }
  for (const [kernelName, { original }] of gradients) {
    if (original) tf.registerGradient(original);
    else if (tf.getGradient(kernelName)) tf.unregisterGradient(kernelName);
    gradients.delete(kernelName);
  }
  nativeProvider = undefined;
  const engine = tf.engine() as unknown as Record<string, unknown>;
  for (const [name, { hadOwn, original }] of enginePatches) {
    if (hadOwn) engine[name] = original;
    else delete engine[name];
  }
  enginePatches.clear();
}
