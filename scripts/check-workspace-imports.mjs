#!/usr/bin/env node
// Fails when a file of a workspace package (packages/*, examples/*, tools/*) imports another workspace
// package that its package.json does not declare. An undeclared edge works in the monorepo (pnpm links
// every package) and breaks for whoever installs the package alone; it also hides a layer violation
// from turbo's build order and from a reader of package.json.
//
// Counted as imports: `import … from`, `export … from`, `import x = require()`, `import("…")`,
// `import("…")` types, `require("…")`, `require.resolve("…")`, and a dynamic `import()` or `require()`
// whose argument is not a literal: then every string in the file that names a workspace package
// ("@concord/distributed", or with a subpath) counts, because that is how a variable specifier is built.
//
// Shipped files (what the package's exports and bins reach) may use dependencies, peerDependencies and
// optionalDependencies; tests, test helpers, scripts and tool configs may use devDependencies as well.
//
//   node scripts/check-workspace-imports.mjs [root]      (default root: the repository)
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, relative, resolve, sep } from "node:path";
import { fileURLToPath } from "node:url";
import ts from "typescript";

const WORKSPACE_FOLDERS = ["packages", "examples", "tools"];
const CODE_FILE = /\.(ts|tsx|mts|cts|js|mjs|cjs)$/;
const SKIPPED_FOLDERS = new Set(["node_modules", "dist", "coverage", "runs", "public"]);

/** Every workspace package under root: { dir, name, manifest }. */
export function workspacePackages(root) {
  const packages = [];
  for (const folder of WORKSPACE_FOLDERS) {
    const parent = join(root, folder);
    if (!existsSync(parent)) continue;
    for (const name of readdirSync(parent)) {
      const manifestPath = join(parent, name, "package.json");
      if (!existsSync(manifestPath)) continue;
      const manifest = JSON.parse(readFileSync(manifestPath, "utf8"));
      packages.push({ dir: join(parent, name), name: manifest.name, manifest });
    }
  }
  return packages;
}

/** The code files of one package (build output, dependencies and dot-folders left out). */
function codeFiles(dir) {
  const files = [];
  const walk = (folder) => {
    for (const name of readdirSync(folder)) {
      const path = join(folder, name);
      if (statSync(path).isDirectory()) {
        if (!SKIPPED_FOLDERS.has(name) && !name.startsWith(".")) walk(path);
      } else if (CODE_FILE.test(name) && !name.endsWith(".d.ts")) files.push(path);
    }
  };
  walk(dir);
  return files;
}

const TEST_FILE = /\.test(-d)?\.[cm]?[jt]sx?$/;

/**
 * The files of a package that ship: everything its entry points (the `@concord/source` condition of
 * each export, the bins) reach through relative imports or relative file names such as
 * `new URL("./task-worker.js", import.meta.url)`. A package without such entries (an example, a tool)
 * ships every file under src/ that is not a test. Tests and the helpers only they reach are development files.
 */
export function shippedFiles(dir, manifest, files) {
  const byPath = new Set(files);
  const entries = [];
  const collect = (value) => {
    if (typeof value === "string") return;
    for (const [condition, target] of Object.entries(value ?? {})) {
      if (condition === "@concord/source" && typeof target === "string") entries.push(resolve(dir, target));
      else if (target && typeof target === "object") collect(target);
    }
  };
  collect(manifest.exports);
  for (const bin of typeof manifest.bin === "string" ? [manifest.bin] : Object.values(manifest.bin ?? {})) {
    entries.push(resolve(dir, bin.replace(/^(\.\/)?dist\//, "src/").replace(/\.js$/, ".ts")));
  }
  if (entries.length === 0) return new Set(files.filter((file) => relative(dir, file).split(sep)[0] === "src" && !TEST_FILE.test(file)));
  const shipped = new Set();
  const pending = entries.filter((file) => byPath.has(file));
  while (pending.length > 0) {
    const file = pending.pop();
    if (shipped.has(file)) continue;
    shipped.add(file);
    for (const target of relativeReferences(file, readFileSync(file, "utf8"))) {
      const found = [target, target.replace(/\.js$/, ".ts"), target.replace(/\.js$/, ".tsx"), target.replace(/\.mjs$/, ".mts")].find((candidate) => byPath.has(candidate));
      if (found && !shipped.has(found)) pending.push(found);
    }
  }
  return shipped;
}

/** Every relative string in a file ("./x.js", "../cli.js"), resolved against its folder: imports and file URLs alike. */
function relativeReferences(path, text) {
  const targets = [];
  for (const match of text.matchAll(/["'`](\.\.?\/[^"'`\s]+)["'`]/g)) targets.push(resolve(dirname(path), match[1]));
  return targets;
}

/** The package a specifier names ("@concord/algorithms/node" → "@concord/algorithms"), or undefined for a relative or node: one. */
function packageOf(specifier) {
  if (specifier.startsWith(".") || specifier.startsWith("/") || specifier.includes(":")) return undefined;
  const parts = specifier.split("/");
  return specifier.startsWith("@") ? parts.slice(0, 2).join("/") : parts[0];
}

/**
 * The module specifiers one file uses, with line numbers: literal imports, plus (when some dynamic
 * import or require takes a non-literal argument) every string literal that names a workspace package.
 */
export function importedSpecifiers(path, text, workspaceNames) {
  const kind = /\.(ts|mts|cts)$/.test(path) ? ts.ScriptKind.TS : /\.tsx$/.test(path) ? ts.ScriptKind.TSX : ts.ScriptKind.JS;
  const source = ts.createSourceFile(path, text, ts.ScriptTarget.Latest, true, kind);
  const found = [];
  const strings = [];
  let variableImport = false;
  const lineOf = (node) => source.getLineAndCharacterOfPosition(node.getStart(source)).line + 1;
  const add = (node, how) => found.push({ specifier: node.text, line: lineOf(node), how });
  const visit = (node) => {
    if ((ts.isImportDeclaration(node) || ts.isExportDeclaration(node)) && node.moduleSpecifier && ts.isStringLiteral(node.moduleSpecifier)) {
      add(node.moduleSpecifier, ts.isImportDeclaration(node) ? "import" : "export from");
    } else if (ts.isImportEqualsDeclaration(node) && ts.isExternalModuleReference(node.moduleReference) && ts.isStringLiteral(node.moduleReference.expression)) {
      add(node.moduleReference.expression, "import = require");
    } else if (ts.isImportTypeNode(node) && ts.isLiteralTypeNode(node.argument) && ts.isStringLiteral(node.argument.literal)) {
      add(node.argument.literal, "import() type");
    } else if (ts.isCallExpression(node) && isLoaderCall(node)) {
      const argument = node.arguments[0];
      if (argument && ts.isStringLiteralLike(argument)) add(argument, node.expression.kind === ts.SyntaxKind.ImportKeyword ? "import()" : "require");
      else if (argument) variableImport = true;
    } else if (ts.isStringLiteralLike(node)) {
      strings.push(node);
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  if (variableImport) {
    for (const node of strings) {
      const name = packageOf(node.text);
      if (name !== undefined && workspaceNames.has(name) && /^@[\w.-]+\/[\w.-]+(\/[\w./-]+)?$/.test(node.text)) add(node, "variable import()");
    }
  }
  return found;
}

/** `import(x)`, `require(x)`, `require.resolve(x)`, `createRequire(…)(x)`. */
function isLoaderCall(node) {
  const callee = node.expression;
  if (callee.kind === ts.SyntaxKind.ImportKeyword) return true;
  if (ts.isIdentifier(callee)) return callee.text === "require";
  if (ts.isPropertyAccessExpression(callee)) return ts.isIdentifier(callee.expression) && callee.expression.text === "require" && callee.name.text === "resolve";
  return ts.isCallExpression(callee) && ts.isIdentifier(callee.expression) && callee.expression.text === "createRequire";
}

/** Every undeclared edge: { file, line, how, specifier, package, importer, allowedIn }. */
export function checkRoot(root) {
  const packages = workspacePackages(root);
  const workspaceNames = new Set(packages.map((pkg) => pkg.name));
  const problems = [];
  let files = 0;
  for (const pkg of packages) {
    const { manifest } = pkg;
    const shipped = new Set([...Object.keys(manifest.dependencies ?? {}), ...Object.keys(manifest.peerDependencies ?? {}), ...Object.keys(manifest.optionalDependencies ?? {})]);
    const development = new Set([...shipped, ...Object.keys(manifest.devDependencies ?? {})]);
    const packageFiles = codeFiles(pkg.dir);
    const shippedSet = shippedFiles(pkg.dir, manifest, packageFiles);
    for (const file of packageFiles) {
      files += 1;
      const allowed = shippedSet.has(file) ? shipped : development;
      for (const use of importedSpecifiers(file, readFileSync(file, "utf8"), workspaceNames)) {
        const name = packageOf(use.specifier);
        if (name === undefined || !workspaceNames.has(name) || name === pkg.name || allowed.has(name)) continue;
        const where = development.has(name) ? "devDependencies only (a shipped source file needs dependencies or peerDependencies)" : "not declared";
        problems.push({ file: relative(root, file).split(sep).join("/"), line: use.line, how: use.how, specifier: use.specifier, package: name, importer: pkg.name, where });
      }
    }
  }
  return { files, packages: packages.length, problems };
}

/** The checker must reject each undeclared edge of a fixture workspace, and accept its declared ones, before its verdict on the repository counts. */
export function selfTest() {
  const root = mkdtempSync(join(tmpdir(), "workspace-imports-"));
  const write = (path, text) => {
    mkdirSync(dirname(join(root, path)), { recursive: true });
    writeFileSync(join(root, path), text);
  };
  try {
    write("packages/low/package.json", JSON.stringify({ name: "@fx/low" }));
    write("packages/peer/package.json", JSON.stringify({ name: "@fx/peer" }));
    write("packages/dev/package.json", JSON.stringify({ name: "@fx/dev" }));
    write("packages/top/package.json", JSON.stringify({ name: "@fx/top" }));
    write(
      "packages/mid/package.json",
      JSON.stringify({
        name: "@fx/mid",
        exports: { ".": { "@concord/source": "./src/index.ts", default: "./dist/index.js" } },
        bin: { mid: "./dist/cli.js" },
        dependencies: { "@fx/low": "workspace:^" },
        peerDependencies: { "@fx/peer": "*" },
        devDependencies: { "@fx/dev": "workspace:^" },
      }),
    );
    write(
      "packages/mid/src/index.ts",
      'export * from "./ok.js";\nexport * from "./static.js";\nexport * from "./reexport.js";\nexport * from "./variable.js";\nexport const worker = new URL("./dev-in-source.js", import.meta.url);\n',
    );
    write("packages/mid/src/cli.ts", 'import "./required.cjs";\n');
    // Declared edges and non-package strings: accepted.
    write("packages/mid/src/ok.ts", 'import { a } from "@fx/low";\nexport * from "@fx/peer/sub";\nimport "@fx/mid/self";\nexport const condition = "@fx/source";\n');
    write("packages/mid/src/ok.test.ts", 'import { d } from "@fx/dev";\nimport "./testing/helper.js";\n');
    write("packages/mid/src/testing/helper.ts", 'import { d } from "@fx/dev";\n');
    write("packages/mid/scripts/tool.mjs", 'const dev = await import("@fx/dev");\nconst name = "@fx/source";\nawait import(name);\n');
    // Undeclared edges, one per way of importing.
    write("packages/mid/src/static.ts", 'import type { T } from "@fx/top";\n');
    write("packages/mid/src/reexport.ts", 'export { t } from "@fx/top/node";\n');
    write("packages/mid/src/variable.ts", 'const TOP = "@fx/top";\nexport async function load() {\n  const specifier: string = TOP;\n  return import(specifier);\n}\n');
    write("packages/mid/src/required.cjs", 'module.exports = require("@fx/top");\n');
    write("packages/mid/src/dev-in-source.ts", 'import { d } from "@fx/dev";\n');
    const { problems } = checkRoot(root);
    const got = problems.map((p) => `${p.file.replace("packages/mid/", "")}:${p.line} ${p.how} ${p.package}`).sort();
    const expected = [
      "src/dev-in-source.ts:1 import @fx/dev",
      "src/reexport.ts:1 export from @fx/top",
      "src/required.cjs:1 require @fx/top",
      "src/static.ts:1 import @fx/top",
      "src/variable.ts:1 variable import() @fx/top",
    ];
    if (JSON.stringify(got) !== JSON.stringify(expected)) {
      throw new Error(`self-test: expected exactly\n  ${expected.join("\n  ")}\ngot\n  ${got.join("\n  ")}`);
    }
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  selfTest();
  const root = resolve(process.argv[2] ?? join(dirname(fileURLToPath(import.meta.url)), ".."));
  const { files, packages, problems } = checkRoot(root);
  if (problems.length > 0) {
    console.error(`undeclared imports between workspace packages (${problems.length}):`);
    for (const p of problems) console.error(`  ${p.file}:${p.line}: ${p.how} "${p.specifier}": ${p.importer} -> ${p.package} is ${p.where}`);
    process.exitCode = 1;
  } else {
    console.log(`every import between workspace packages is declared (${files} files in ${packages} packages)`);
  }
}
