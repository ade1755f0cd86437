// useBackend(): the one setup call. Loads and initialises the chosen tfjs backend (the backend
// packages register themselves when imported, so they are imported here, on demand, and never at
// module load), then installs Concord's changes to TensorFlow.js (installConcord).
import * as tf from "@tensorflow/tfjs-core";
import { ConcordError } from "@concord/core";
import { installConcord } from "./install.js";
import { type FastKernelName, INSTALL_ORDER } from "./kernels/index.js";
import { type NativeKernels, nativeKernels } from "./kernels/native-kernels.js";

/** "native" = the wasm backend with Concord's native GEMM kernels (Node only, @concord/backend-native). */
export type BackendChoice = "auto" | "cpu" | "wasm" | "webgl" | "native";
export const BACKEND_CHOICES: readonly BackendChoice[] = ["auto", "cpu", "wasm", "webgl", "native"];

/** The optional peer dependency that provides the webgl backend. */
export const WEBGL_PACKAGE = "@tensorflow/tfjs-backend-webgl";

/**
 * The Node-only package that provides the native kernels of useBackend("native"): installed next to
 * this one by those who want it (not a declared dependency, so browsers and plain installs never see it).
 */
export const NATIVE_PACKAGE = "@concord/backend-native";

export interface UseBackendOptions {
  /**
   * Where the page serves tfjs-backend-wasm's `.wasm` binaries (browsers only; Node finds them in
   * the package): a folder URL ending in "/", or a map from each binary's file name
   * (`tfjs-backend-wasm.wasm`, `tfjs-backend-wasm-simd.wasm`, `tfjs-backend-wasm-threaded-simd.wasm`)
   * to its URL. Passed to tfjs-backend-wasm's `setWasmPaths` before the wasm backend initialises.
   */
  readonly wasmPaths?: string | Readonly<Record<string, string>>;
  /** Kernel replacements and engine patches to leave out (benchmark ablations). Default: none. */
  readonly skipKernels?: readonly FastKernelName[];
}

/** The `skipKernels` of the last useBackend() call (activeSkipKernels). */
let skippedKernels: readonly FastKernelName[] = [];

/** The engine a run computes on: tf's backend, or "native" (the wasm backend with the native kernels). */
export type Engine = "cpu" | "wasm" | "webgl" | "native";

/**
 * Selects TensorFlow.js's backend, installs Concord's gradient set, fast kernels, fused Adam
 * kernel and clone patch for it (installConcord), and returns the engine it set up (record it:
 * engines agree only up to float summation order). Call it once before training.
 * "auto" = the fastest that works here: "native" in Node when `@concord/backend-native` is installed
 * and its addon was built, else wasm (SIMD, one thread) when it initialises, else cpu. "cpu", "wasm"
 * and "webgl" insist. "native" (Node only) is the wasm backend whose matMul, convolution, max-pool
 * routing and batch-norm kernels call `@concord/backend-native` (OpenBLAS; install that package next
 * to this one, it compiles its addon), and insists: without the addon it is a ConcordError. Every
 * other engine turns native kernels off. webgl needs a browser and the optional peer dependency
 * `@tensorflow/tfjs-backend-webgl` (in a bundled app, import it yourself before this call).
 */
export async function useBackend(choice: BackendChoice = "auto", options: UseBackendOptions = {}): Promise<Engine> {
  if (!BACKEND_CHOICES.includes(choice)) {
    throw new ConcordError(`expected one of ${BACKEND_CHOICES.join(", ")}, got ${JSON.stringify(choice)}`, { field: "backend" });
  }
  expectOptions(options);
  const name = await selectBackend(choice === "native" ? "wasm" : choice, options);
  let native: NativeKernels | undefined;
  if (choice === "native") native = await loadNativeKernels();
  else if (choice === "auto" && name === "wasm") native = await nativeKernelsIfAvailable();
  installConcord({ ...(options.skipKernels ? { skipKernels: options.skipKernels } : {}), native });
  skippedKernels = [...(options.skipKernels ?? [])];
  return native ? "native" : (name as Engine);
}

/**
 * The `skipKernels` of the last useBackend() call: with activeBackendChoice(), what another thread
 * (a task pool's worker) passes to useBackend() to compute the same float32 bits.
 */
export function activeSkipKernels(): readonly FastKernelName[] {
  return skippedKernels;
}

/**
 * The choice that reproduces the current setup in another thread (a task pool's workers): "native"
 * while the wasm backend runs with native kernels, else tf's backend name.
 */
export function activeBackendChoice(): string {
  const name = tf.getBackend();
  return name === "wasm" && nativeKernels() ? "native" : name;
}

/**
 * For "auto": the native kernels when this is Node and @concord/backend-native loads with its addon,
 * else undefined (a browser, a plain install without the package, a machine without g++/OpenBLAS).
 */
async function nativeKernelsIfAvailable(): Promise<NativeKernels | undefined> {
  const node = (globalThis as { process?: { versions?: { node?: string } } }).process?.versions?.node;
  if (node === undefined) return undefined;
  try {
    return await loadNativeKernels();
  } catch {
    return undefined;
  }
}

/** The native kernels of @concord/backend-native, or a ConcordError saying what to install. */
async function loadNativeKernels(): Promise<NativeKernels> {
  // A variable specifier: bundlers must not try to resolve an optional, Node-only package.
  const specifier: string = NATIVE_PACKAGE;
  let module: { loadNativeKernels?: () => NativeKernels };
  try {
    module = (await import(/* @vite-ignore */ specifier)) as typeof module;
  } catch (error) {
    throw new ConcordError(
      `the native backend needs ${NATIVE_PACKAGE} (Node only): npm install ${NATIVE_PACKAGE}, which compiles its addon with g++ and OpenBLAS ` +
        `(Debian/Ubuntu: apt-get install -y g++ libopenblas-dev) (${(error as Error).message})`,
      { field: "backend" },
    );
  }
  if (typeof module.loadNativeKernels !== "function") throw new ConcordError(`${NATIVE_PACKAGE} does not export loadNativeKernels()`, { field: "backend" });
  return module.loadNativeKernels();
}

async function selectBackend(choice: Exclude<BackendChoice, "native">, options: UseBackendOptions): Promise<string> {
  switch (choice) {
    case "auto":
      if ((await loadWasm(options, false)) && (await trySetBackend("wasm"))) return "wasm";
      await import("@tensorflow/tfjs-backend-cpu");
      if (await trySetBackend("cpu")) return "cpu";
      throw new ConcordError("neither the wasm nor the cpu backend initialised", { field: "backend" });
    case "cpu":
      await import("@tensorflow/tfjs-backend-cpu");
      break;
    case "wasm":
      await loadWasm(options, true);
      break;
    case "webgl":
      await loadWebgl();
      if (!(await trySetBackend("webgl"))) {
        throw new ConcordError("the webgl backend failed to initialise: it needs WebGL, i.e. a browser with WebGL enabled (in Node use cpu or wasm)", {
          field: "backend",
        });
      }
      return "webgl";
  }
  if (!(await trySetBackend(choice))) throw new ConcordError(`the ${choice} backend failed to initialise`, { field: "backend" });
  return choice;
}

/** Imports tfjs-backend-wasm and applies `wasmPaths`; false (or a ConcordError when `insist`) if that fails. */
async function loadWasm(options: UseBackendOptions, insist: boolean): Promise<boolean> {
  const wasm = (await import("@tensorflow/tfjs-backend-wasm")) as { setWasmPaths?: unknown; default?: { setWasmPaths?: unknown } };
  if (options.wasmPaths === undefined) return true;
  // tfjs-backend-wasm reads the paths once, when the backend initialises, and ignores later ones.
  if (tf.findBackend("wasm")) {
    if (!insist) return true;
    throw new ConcordError("the wasm backend is already initialised: pass wasmPaths to the first useBackend() call, before anything uses wasm", {
      field: "wasmPaths",
    });
  }
  const setWasmPaths = (wasm.setWasmPaths ?? wasm.default?.setWasmPaths) as (paths: string | Record<string, string>) => void;
  try {
    setWasmPaths(options.wasmPaths as string | Record<string, string>);
    return true;
  } catch (error) {
    if (!insist) return false;
    throw new ConcordError(`could not use these wasm paths: ${(error as Error).message}`, { field: "wasmPaths" });
  }
}

/** Makes sure a webgl backend factory is registered: the app imported the package, or it can be imported now. */
async function loadWebgl(): Promise<void> {
  if (tf.findBackendFactory("webgl")) return;
  // A variable specifier: bundlers must not try to resolve an optional peer that may be absent.
  const specifier: string = WEBGL_PACKAGE;
  try {
    await import(/* @vite-ignore */ specifier);
  } catch (error) {
    throw new ConcordError(
      `the webgl backend needs ${WEBGL_PACKAGE} (an optional peer dependency): install it (npm install ${WEBGL_PACKAGE}@4.22.0), ` +
        `and in a bundled app import it before calling useBackend("webgl") (${(error as Error).message})`,
      { field: "backend" },
    );
  }
  if (!tf.findBackendFactory("webgl")) {
    // tfjs-backend-webgl registers its backend only where it finds a browser.
    throw new ConcordError("the webgl backend needs WebGL, i.e. a browser (in Node use cpu or wasm)", { field: "backend" });
  }
}

async function trySetBackend(name: string): Promise<boolean> {
  if (tf.engine().backendName === name) return true;
  try {
    const ok = await tf.setBackend(name);
    await tf.ready();
    return ok && tf.getBackend() === name;
  } catch {
    return false;
  }
}

function expectOptions(options: UseBackendOptions): void {
  if (options === null || typeof options !== "object") {
    throw new ConcordError(`expected an options object { wasmPaths?, skipKernels? }, got ${String(options)}`, { field: "options" });
  }
  const { wasmPaths, skipKernels } = options;
  const isPathMap = (value: unknown) =>
    value !== null && typeof value === "object" && !Array.isArray(value) && Object.values(value).every((path) => typeof path === "string");
  if (wasmPaths !== undefined && typeof wasmPaths !== "string" && !isPathMap(wasmPaths)) {
    throw new ConcordError("expected a folder URL or a map from .wasm file names to URLs", { field: "wasmPaths" });
  }
  if (skipKernels !== undefined) {
    const known: readonly string[] = INSTALL_ORDER;
    const unknown = Array.isArray(skipKernels) ? skipKernels.filter((name) => !known.includes(name)) : [String(skipKernels)];
    if (unknown.length > 0) {
      throw new ConcordError(`unknown fast kernel ${JSON.stringify(unknown[0])}; expected some of ${known.join(", ")}`, { field: "skipKernels" });
    }
  }
}
