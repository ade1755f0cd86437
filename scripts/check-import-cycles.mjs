#!/usr/bin/env node
// Fails on any import cycle among the TypeScript sources of packages/*/src (type-only imports and
// re-exports included: a cycle of types is still a tangle). Modules are resolved with TypeScript's
// own resolver and the repository's compiler options (NodeNext, the @concord/source condition), so
// `./x.js` finds `./x.ts` and `@concord/core` finds packages/core/src/index.ts exactly as tsc does.
//
//   node scripts/check-import-cycles.mjs [root]      (default root: the repository)
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, relative, resolve, sep } from "node:path";
import { fileURLToPath } from "node:url";
import ts from "typescript";

/** Every .ts file under <root>/packages/*\/src (declaration files excluded). */
function sourceFiles(root) {
  const files = [];
  const walk = (dir) => {
    for (const name of readdirSync(dir)) {
      const path = join(dir, name);
      if (statSync(path).isDirectory()) {
        if (name !== "node_modules" && name !== "dist") walk(path);
      } else if (name.endsWith(".ts") && !name.endsWith(".d.ts")) files.push(path);
    }
  };
  const packages = join(root, "packages");
  for (const name of readdirSync(packages)) {
    const src = join(packages, name, "src");
    if (statSync(join(packages, name)).isDirectory() && readdirSync(join(packages, name)).includes("src")) walk(src);
  }
  return files;
}

/** The import graph: file → files it imports (only files of the checked set). */
function importGraph(files, options) {
  const inSet = new Set(files);
  const graph = new Map();
  for (const file of files) {
    const { importedFiles } = ts.preProcessFile(readFileSync(file, "utf8"), true, true);
    const targets = new Set();
    for (const { fileName } of importedFiles) {
      const resolved = ts.resolveModuleName(fileName, file, options, ts.sys).resolvedModule?.resolvedFileName;
      if (resolved && inSet.has(resolve(resolved))) targets.add(resolve(resolved));
    }
    graph.set(file, [...targets]);
  }
  return graph;
}

/** One example cycle per strongly connected component of more than one file, or a file importing itself (Tarjan). */
export function findCycles(graph) {
  let next = 0;
  const index = new Map();
  const low = new Map();
  const stack = [];
  const onStack = new Set();
  const cycles = [];
  const connect = (v) => {
    index.set(v, next);
    low.set(v, next);
    next += 1;
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!index.has(w)) {
        connect(w);
        low.set(v, Math.min(low.get(v), low.get(w)));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v), index.get(w)));
    }
    if (low.get(v) !== index.get(v)) return;
    const component = [];
    let w;
    do {
      w = stack.pop();
      onStack.delete(w);
      component.push(w);
    } while (w !== v);
    if (component.length > 1 || (graph.get(v) ?? []).includes(v)) cycles.push(examplePath(graph, new Set(component), v));
  };
  for (const v of graph.keys()) if (!index.has(v)) connect(v);
  return cycles;
}

/** A shortest path v → … → v inside the component (breadth-first). */
function examplePath(graph, component, start) {
  const previous = new Map();
  const queue = [start];
  while (queue.length > 0) {
    const v = queue.shift();
    for (const w of graph.get(v) ?? []) {
      if (!component.has(w)) continue;
      if (w === start) {
        const path = [v];
        while (path[0] !== start) path.unshift(previous.get(path[0]));
        return [...path, start];
      }
      if (!previous.has(w)) {
        previous.set(w, v);
        queue.push(w);
      }
    }
  }
  return [start, start];
}

function compilerOptions(root) {
  const base = join(root, "tsconfig.base.json");
  const parsed = ts.readConfigFile(base, ts.sys.readFile);
  if (parsed.error) return { module: ts.ModuleKind.NodeNext, moduleResolution: ts.ModuleResolutionKind.NodeNext, customConditions: ["@concord/source"] };
  return ts.convertCompilerOptionsFromJson(parsed.config.compilerOptions, root).options;
}

export function checkRoot(root) {
  const files = sourceFiles(root).map((file) => resolve(file));
  return { files: files.length, cycles: findCycles(importGraph(files, compilerOptions(root))) };
}

/** The checker must find a known cycle (type-only, through a re-export) before its verdict on the repository counts. */
function selfTest() {
  const root = mkdtempSync(join(tmpdir(), "import-cycles-"));
  try {
    mkdirSync(join(root, "packages", "p", "src"), { recursive: true });
    writeFileSync(join(root, "packages", "p", "src", "a.ts"), 'import type { B } from "./b.js";\nexport type A = B[];\n');
    writeFileSync(join(root, "packages", "p", "src", "b.ts"), 'export type { C as B } from "./c.js";\n');
    writeFileSync(join(root, "packages", "p", "src", "c.ts"), 'import type { A } from "./a.js";\nexport type C = { a?: A };\n');
    writeFileSync(join(root, "packages", "p", "src", "d.ts"), 'import type { A } from "./a.js";\nexport type D = A;\n');
    const { cycles } = checkRoot(root);
    const names = cycles[0]?.map((file) => file.slice(-4)) ?? [];
    if (cycles.length !== 1 || names.join(" ") !== "a.ts b.ts c.ts a.ts") throw new Error(`self-test: expected one 3-file cycle, got ${JSON.stringify(cycles)}`);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  selfTest();
  const root = resolve(process.argv[2] ?? join(dirname(fileURLToPath(import.meta.url)), ".."));
  const { files, cycles } = checkRoot(root);
  if (cycles.length > 0) {
    console.error(`import cycles in packages/*/src (${cycles.length}):`);
    for (const cycle of cycles) console.error(`  ${cycle.map((file) => relative(root, file).split(sep).join("/")).join(" -> ")}`);
    process.exitCode = 1;
  } else {
    console.log(`no import cycles among ${files} source files of packages/*/src`);
  }
}
