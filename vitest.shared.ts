import { fileURLToPath } from "node:url";
import { defineConfig } from "vitest/config";

/** Tests run on the TypeScript sources of sibling packages, never on a stale dist. */
export default defineConfig({
  resolve: { conditions: ["@concord/source"] },
  ssr: { resolve: { conditions: ["@concord/source"], externalConditions: ["@concord/source"] } },
  test: {
    include: ["src/**/*.test.ts", "test/**/*.test.ts"],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    pool: "forks",
    setupFiles: [fileURLToPath(new URL("./vitest.setup.ts", import.meta.url))],
  },
});
