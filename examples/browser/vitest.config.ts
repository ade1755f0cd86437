import { defineConfig, mergeConfig } from "vitest/config";
import shared from "../../vitest.shared.js";

// The browser tests build the app (once, in the global setup) and drive Chromium: give them time,
// and run them one at a time.
export default mergeConfig(
  shared,
  defineConfig({ test: { globalSetup: ["test/build-app-once.ts"], testTimeout: 600_000, hookTimeout: 600_000, fileParallelism: false } }),
);
