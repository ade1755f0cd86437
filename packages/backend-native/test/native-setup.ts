// Every test file of this package runs with Concord's native kernels installed on top of the root
// setup (vitest.setup.ts installs Concord without them), through a provider that counts its calls.
// After each file: the native kernels must still be the installed ones (no test switched them off
// and let the wasm path pass for the native one).
import { installConcord, nativeKernels } from "@concord/backend";
import { afterAll, expect } from "vitest";
import { loadNativeKernels } from "../src/index.js";
import { countingKernels } from "./counting-kernels.js";

const counted = countingKernels(loadNativeKernels());
installConcord({ native: counted });

afterAll(() => {
  expect(nativeKernels()).toBe(counted);
});
