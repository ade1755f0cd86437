import { defineConfig } from "vite";

export default defineConfig({
  // Relative asset URLs: the built app works from any folder (or a file server's sub-path).
  base: "./",
  resolve: {
    // Workspace packages from their TypeScript sources (no stale dist).
    conditions: ["@concord/source", "module", "browser", "development|production"],
  },
  worker: { format: "es" },
  build: { target: "es2022", chunkSizeWarningLimit: 4096 },
});
