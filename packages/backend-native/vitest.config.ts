import { fileURLToPath } from "node:url";
import { defineConfig, mergeConfig } from "vitest/config";
import shared from "../../vitest.shared.js";

/**
 * This package's tests, plus @concord/backend's kernel tests (float64 references) and its
 * finite-difference / second-order gradient tests run again with the native kernels installed
 * (test/native-setup.ts): the same assertions, now through the native path on the wasm backend.
 */
export default mergeConfig(
  shared,
  defineConfig({
    test: {
      include: [
        "src/**/*.test.ts",
        "../backend/src/kernels/**/*.test.ts",
        "../backend/src/engine-patches/*.test.ts",
        "../backend/src/gradients/{cnn,conv,maml,matmul,closure,batch-norm}.test.ts",
      ],
      // That file tests the hook itself with a JavaScript provider and switches the native kernels off.
      exclude: ["**/node_modules/**", "../backend/src/kernels/native-kernels.test.ts"],
      setupFiles: [fileURLToPath(new URL("./test/native-setup.ts", import.meta.url))],
    },
  }),
);
