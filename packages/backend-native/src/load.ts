import { createRequire } from "node:module";
import { availableParallelism } from "node:os";
import { isMainThread } from "node:worker_threads";
import { NATIVE_KERNEL_MEMBERS, type NativeKernels } from "@concord/backend";
import { ConcordError } from "@concord/core";

/** What to install where the addon is missing (it is compiled from source when the package installs or builds). */
export const NATIVE_INSTALL_HINT =
  "install a C++ compiler and OpenBLAS (Debian/Ubuntu: apt-get install -y g++ libopenblas-dev), then rebuild the addon " +
  "(pnpm --filter @concord/backend-native build, or reinstall @concord/backend-native)";

/** The addon's own functions beside the kernels (native/concord_native.cc, "thread control"). */
export interface NativeThreadControl {
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

/**
 * The addon's functions: every member of @concord/backend's NativeKernels contract (the native
 * functions its kernel folders declare, each in its contract.ts; the addon has them all) plus thread control.
 */
export type NativeAddon = Required<Omit<NativeKernels, "description">> & NativeThreadControl;

/** The names of NativeThreadControl's functions. */
export const THREAD_CONTROL = ["setThreads", "threads", "loadedThreads", "blasConfig"] as const satisfies readonly (keyof NativeThreadControl)[];

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
    let exports: Record<string, unknown>;
    try {
      exports = createRequire(import.meta.url)(ADDON_URL.pathname) as Record<string, unknown>;
    } catch (error) {
      throw new ConcordError(
        `the native addon ${ADDON_URL.pathname} could not be loaded (${(error as Error).message.split("\n")[0]}): ${NATIVE_INSTALL_HINT}`,
        {
          field: "backend",
        },
      );
    }
    addon = addonMembers(exports, ADDON_URL.pathname);
  }
  const fromEnvironment = process.env["CONCORD_NATIVE_THREADS"];
  const threads = options.threads ?? (!isMainThread ? 1 : fromEnvironment ? Number(fromEnvironment) : availableParallelism());
  if (!Number.isInteger(threads) || threads < 1) throw new ConcordError(`expected an integer ≥ 1, got ${String(threads)}`, { field: "threads" });
  addon.setThreads(threads);
  return { description: addon.blasConfig(), ...addon };
}

/**
 * The members of a loaded addon that NATIVE_KERNEL_MEMBERS and THREAD_CONTROL name (one list: the
 * kernel folders' contracts), each checked to be a function or a boolean flag as listed. A ConcordError
 * names a missing one: an addon built from another version's source.
 */
export function addonMembers(exports: Record<string, unknown>, path: string): NativeAddon {
  const expected: [string, "function" | "flag"][] = [
    ...Object.entries(NATIVE_KERNEL_MEMBERS),
    ...THREAD_CONTROL.map((name) => [name, "function"] as [string, "function"]),
  ];
  const members: Record<string, unknown> = {};
  for (const [name, kind] of expected) {
    const member = exports[name];
    if (typeof member !== (kind === "function" ? "function" : "boolean")) {
      throw new ConcordError(
        `the native addon ${path} has no ${name} ${kind === "function" ? "function" : "flag"} (built from another version's source?): rebuild it (pnpm --filter @concord/backend-native build, or reinstall @concord/backend-native)`,
        { field: "backend" },
      );
    }
    members[name] = member;
  }
  return members as unknown as NativeAddon;
}
