import { defineConfig, type Plugin } from "vite";

/**
 * @concord/algorithms's entry point still re-exports createTaskPool, which imports node:os and
 * node:worker_threads. Vite's dev server turns those imports into modules that throw as soon as they
 * are read, so the page would not start. These stubs stand in for the few names it imports and throw
 * only if called (createTaskPool is Node-only and the app never calls it). Remove this plugin once
 * createTaskPool lives in @concord/algorithms/node.
 */
const NODE_ONLY_IMPORTS: Record<string, readonly string[]> = {
  "node:os": ["availableParallelism"],
  "node:worker_threads": ["MessageChannel", "receiveMessageOnPort", "Worker"],
};
function nodeOnlyStubs(): Plugin {
  const prefix = "\0concord-node-only:";
  return {
    name: "concord-node-only-stubs",
    enforce: "pre",
    resolveId: (id) => (Object.hasOwn(NODE_ONLY_IMPORTS, id) ? prefix + id : undefined),
    load(id) {
      if (!id.startsWith(prefix)) return undefined;
      const module = id.slice(prefix.length);
      return NODE_ONLY_IMPORTS[module]!.map(
        (name) => `export function ${name}() { throw new Error("${module} ${name} is not available in a browser (createTaskPool is Node-only)"); }`,
      ).join("\n");
    },
  };
}

export default defineConfig({
  // Relative asset URLs: the built app works from any folder (or a file server's sub-path).
  base: "./",
  plugins: [nodeOnlyStubs()],
  resolve: {
    // Workspace packages from their TypeScript sources (no stale dist).
    conditions: ["@concord/source", "module", "browser", "development|production"],
  },
  worker: { format: "es", plugins: () => [nodeOnlyStubs()] },
  build: { target: "es2022", chunkSizeWarningLimit: 4096 },
});
