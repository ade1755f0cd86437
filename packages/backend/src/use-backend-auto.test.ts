// "auto" without the native addon (a plain install, a machine without g++ or OpenBLAS, a browser
// bundle): the wasm engine, without an error. The package is replaced by one whose loader fails as
// the real one does when its addon was never built.
import * as tf from "@tensorflow/tfjs-core";
import { ConcordError } from "@concord/core";
import { expect, it, vi } from "vitest";
import { nativeKernels } from "./kernels/native-kernels.js";
import { activeBackendChoice, useBackend } from "./use-backend.js";

vi.mock("@concord/backend-native", () => ({
  loadNativeKernels: () => {
    throw new ConcordError("the native addon build/concord_native.node could not be loaded (test: not built)", { field: "backend" });
  },
}));

it("auto falls back to wasm when the native addon cannot be loaded; native insists with the ConcordError", async () => {
  expect(await useBackend("auto")).toBe("wasm");
  expect(tf.getBackend()).toBe("wasm");
  expect(nativeKernels()).toBeUndefined();
  expect(activeBackendChoice()).toBe("wasm");
  const error = await useBackend("native").then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(ConcordError);
  expect((error as ConcordError).message).toMatch(/test: not built/);
});
