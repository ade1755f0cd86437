import { createRequire } from "node:module";
import { availableParallelism } from "node:os";
import { isMainThread } from "node:worker_threads";
import type { NativeKernels } from "@concord/backend";
import { ConcordError } from "@concord/core";

/** What to install where the addon is missing (it is compiled from source when the package installs or builds). */
export const NATIVE_INSTALL_HINT =
  "install a C++ compiler and OpenBLAS (Debian/Ubuntu: apt-get install -y g++ libopenblas-dev), then rebuild the addon " +
  "(pnpm --filter @concord/backend-native build, or reinstall @concord/backend-native)";

/**
 * The addon's functions (native/concord_native.cc): @concord/backend's NativeKernels contract (sgemm, im2col,
 * and the optional max-pool routing, fused batch norm, SGD step and bias add, on the wasm heap) plus thread control.
 */
export interface NativeAddon
  extends Omit<NativeKernels, "description" | "maxPoolRoute" | "batchNorm" | "batchNormGrad" | "batchNormMoments" | "maxPoolForward" | "sgdStep" | "addBias"> {
  maxPoolRoute: NonNullable<NativeKernels["maxPoolRoute"]>;
  batchNorm: NonNullable<NativeKernels["batchNorm"]>;
  batchNormGrad: NonNullable<NativeKernels["batchNormGrad"]>;
  /** batchNorm and batchNormGrad take the trailing moments argument. */
  readonly batchNormMoments: true;
  /** maxPoolRoute pools x itself with gather 2. */
  readonly maxPoolForward: true;
  sgdStep: NonNullable<NativeKernels["sgdStep"]>;
  addBias: NonNullable<NativeKernels["addBias"]>;
  /** Threads (the caller included) that share out one call's chunks; process-wide. */
  setThreads(threads: number): void;
  threads(): number;
  /**
   * JavaScript threads of the process with the addon loaded. While more than one (a task pool's
   * workers), every call runs on its caller's thread only: the other cores already run tasks.
   */
  loadedThreads(): number;
  /** OpenBLAS's build configuration, e.g. "OpenBLAS 0.3.21 … SkylakeX MAX_THREADS=64". */
  blasConfig(): string;
}

export interface LoadNativeOptions {
  /**
   * Threads sharing one call's work (process-wide; results do not depend on it). Default: the
   * CONCORD_NATIVE_THREADS environment variable, else every core on the main thread; 1 when loaded
   * in a worker thread (a task pool already keeps the cores busy).
   */
  readonly threads?: number;
}

const ADDON_URL = new URL("../build/concord_native.node", import.meta.url);
let addon: NativeAddon | undefined;

/**
 * Loads the native addon (once per thread) and returns it as the NativeKernels of @concord/backend
 * (pass it to installConcord({ native }) or use useBackend("native")), with a `description`.
 * A ConcordError names what to install when the addon was not built or cannot be loaded.
 */
export function loadNativeKernels(options: LoadNativeOptions = {}): NativeAddon & { readonly description: string } {
  if (process.platform === "win32") throw new ConcordError("the native kernels are built for Linux and macOS only", { field: "backend" });
  if (!addon) {
    try {
      addon = createRequire(import.meta.url)(ADDON_URL.pathname) as NativeAddon;
    } catch (error) {
      throw new ConcordError(
        `the native addon ${ADDON_URL.pathname} could not be loaded (${(error as Error).message.split("\n")[0]}): ${NATIVE_INSTALL_HINT}`,
        {
          field: "backend",
        },
      );
    }
  }
  const fromEnvironment = process.env["CONCORD_NATIVE_THREADS"];
  const threads = options.threads ?? (!isMainThread ? 1 : fromEnvironment ? Number(fromEnvironment) : availableParallelism());
  if (!Number.isInteger(threads) || threads < 1) throw new ConcordError(`expected an integer ≥ 1, got ${String(threads)}`, { field: "threads" });
  addon.setThreads(threads);
  const loaded = addon;
  return {
    description: loaded.blasConfig(),
    sgemm: loaded.sgemm,
    im2col: loaded.im2col,
    maxPoolRoute: loaded.maxPoolRoute,
    batchNorm: loaded.batchNorm,
    batchNormGrad: loaded.batchNormGrad,
    batchNormMoments: loaded.batchNormMoments,
    maxPoolForward: loaded.maxPoolForward,
    sgdStep: loaded.sgdStep,
    addBias: loaded.addBias,
    setThreads: loaded.setThreads,
    threads: loaded.threads,
    loadedThreads: loaded.loadedThreads,
    blasConfig: loaded.blasConfig,
  };
}
