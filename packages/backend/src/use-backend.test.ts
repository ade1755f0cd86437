import * as tf from "@tensorflow/tfjs-core";
import { ConcordError } from "@concord/core";
import { describe, expect, it } from "vitest";
import { isConcordInstalled, uninstallConcord } from "./install.js";
import { nativeKernels } from "./kernels/native-kernels.js";
import { activeBackendChoice, type BackendChoice, NATIVE_PACKAGE, useBackend, WEBGL_PACKAGE } from "./use-backend.js";

/** Whether @concord/backend-native resolves from here and its addon loads (what "auto" checks). */
async function nativePackageLoads(): Promise<boolean> {
  const specifier: string = NATIVE_PACKAGE;
  try {
    const module = (await import(/* @vite-ignore */ specifier)) as { loadNativeKernels: () => unknown };
    module.loadNativeKernels();
    return true;
  } catch {
    return false;
  }
}

async function rejection(promise: Promise<unknown>): Promise<ConcordError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(ConcordError);
  return error as ConcordError;
}

describe("useBackend", () => {
  it("selects cpu or wasm, and installs Concord", async () => {
    uninstallConcord();
    expect(await useBackend("cpu")).toBe("cpu");
    expect(tf.getBackend()).toBe("cpu");
    expect(isConcordInstalled()).toBe(true);
    uninstallConcord();
    expect(await useBackend("wasm")).toBe("wasm");
    expect(tf.getBackend()).toBe("wasm");
    expect(isConcordInstalled()).toBe(true);
  });

  it("auto: native where @concord/backend-native's addon loads (this workspace builds it when g++ and OpenBLAS exist), else wasm", async () => {
    const addonLoads = await nativePackageLoads();
    expect(await useBackend()).toBe(addonLoads ? "native" : "wasm");
    expect(tf.getBackend()).toBe("wasm");
    expect(nativeKernels() !== undefined).toBe(addonLoads);
    expect(activeBackendChoice()).toBe(addonLoads ? "native" : "wasm");
    // An explicit engine turns the native kernels off again; "native" names itself.
    expect(await useBackend("wasm")).toBe("wasm");
    expect(nativeKernels()).toBeUndefined();
    if (addonLoads) {
      expect(await useBackend("native")).toBe("native");
      expect(activeBackendChoice()).toBe("native");
      await useBackend("wasm");
    }
  });

  it("webgl in Node: a ConcordError saying it needs a browser (the optional peer is installed in this workspace)", async () => {
    const before = tf.getBackend();
    const error = await rejection(useBackend("webgl"));
    expect(error.field).toBe("backend");
    expect(error.message).toBe("backend: the webgl backend needs WebGL, i.e. a browser (in Node use cpu or wasm)");
    expect(tf.getBackend()).toBe(before);
    expect(WEBGL_PACKAGE).toBe("@tensorflow/tfjs-backend-webgl");
  });

  it("refuses bad choices and options with ConcordErrors naming the field", async () => {
    expect((await rejection(useBackend("gpu" as BackendChoice))).message).toBe('backend: expected one of auto, cpu, wasm, webgl, native, got "gpu"');
    expect((await rejection(useBackend("cpu", { wasmPaths: 42 as unknown as string }))).field).toBe("wasmPaths");
    expect((await rejection(useBackend("cpu", { skipKernels: ["tiles" as "tile"] }))).message).toMatch(
      /^skipKernels: unknown fast kernel "tiles"; expected some of batch-mat-mul, tile, /,
    );
  });

  it("wasmPaths after the wasm backend initialised: a ConcordError, as tfjs cannot move it", async () => {
    await useBackend("wasm");
    const error = await rejection(useBackend("wasm", { wasmPaths: "/static/wasm/" }));
    expect(error.field).toBe("wasmPaths");
    expect(error.message).toMatch(/^wasmPaths: the wasm backend is already initialised: pass wasmPaths to the first useBackend\(\) call/);
  });
});
