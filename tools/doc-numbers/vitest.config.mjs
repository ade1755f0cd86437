import { defineConfig } from "vitest/config";

/** Plain Node tests: no TensorFlow.js setup; @concord/core from its TypeScript source, never a stale dist. */
export default defineConfig({
  resolve: { conditions: ["@concord/source"] },
  ssr: { resolve: { conditions: ["@concord/source"], externalConditions: ["@concord/source"] } },
  test: { include: ["src/**/*.test.mjs"], pool: "forks" },
});
