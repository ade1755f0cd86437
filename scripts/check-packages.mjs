#!/usr/bin/env node
// Checks what `npm install @concord/…` would really get, from the packed tarballs (run after `pnpm build`):
//   1. every publishable package under packages/* (private ones are skipped) packs with pnpm, and the
//      packed package.json has no `workspace:` ranges and no `@concord/source` condition (that
//      condition points at src/, which is not published: `publishConfig.exports` drops it at pack
//      time, and must equal `exports` minus it, so the two maps cannot drift);
//   2. publint (strict) and arethetypeswrong (ESM-only profile) pass on each tarball;
//   3. the tarballs install with npm into a fresh project outside the workspace, together with
//      @tensorflow/tfjs-core, -backend-cpu and -backend-wasm 4.22.0 from the registry, with no
//      engine warning on this Node;
//   4. the README's "Ten lines" example, extracted at run time, runs there and trains to finite
//      parameters.
// Needs no network but the npm registry. Removes its temp folder whatever happens.
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import ts from "typescript";

const root = dirname(dirname(fileURLToPath(import.meta.url)));
const TFJS_VERSION = "4.22.0";
const SOURCE_CONDITION = "@concord/source";
const failures = [];

function fail(message) {
  failures.push(message);
  console.log(`  ✗ ${message}`);
}

function ok(message) {
  console.log(`  ✓ ${message}`);
}

function run(command, args, options = {}) {
  const result = spawnSync(command, args, { encoding: "utf8", maxBuffer: 64 * 1024 * 1024, ...options });
  if (result.error) throw result.error;
  return { status: result.status, output: `${result.stdout ?? ""}${result.stderr ?? ""}` };
}

/** `exports` with the source condition removed, and entries left with no target dropped. */
function withoutSourceCondition(exportsMap) {
  const out = {};
  for (const [subpath, target] of Object.entries(exportsMap)) {
    if (target === null || typeof target !== "object") {
      out[subpath] = target;
      continue;
    }
    const kept = Object.fromEntries(Object.entries(target).filter(([condition]) => condition !== SOURCE_CONDITION));
    if (Object.keys(kept).length > 0) out[subpath] = kept;
  }
  return out;
}

/** pnpm, as the workspace runs it: the running pnpm when invoked through it, else the pinned version via npx. */
function pnpm(args, options) {
  const execPath = process.env.npm_execpath;
  if (execPath && /pnpm/.test(execPath)) {
    // pnpm ≥ 11 runs as a native executable; older versions as a JavaScript file.
    return /\.[cm]?js$/.test(execPath) ? run(process.execPath, [execPath, ...args], options) : run(execPath, args, options);
  }
  const pinned = JSON.parse(readFileSync(join(root, "package.json"), "utf8")).packageManager;
  return run("npx", ["--yes", pinned, ...args], options);
}

function bin(name) {
  return join(root, "node_modules", ".bin", name);
}

function tarEntries(tarball) {
  return run("tar", ["-tzf", tarball]).output.split("\n").filter(Boolean).map((entry) => entry.replace(/^package\//, ""));
}

function tarFile(tarball, path) {
  return run("tar", ["-xzOf", tarball, `package/${path}`]).output;
}

/** Every file path an exports map can resolve to. */
function exportTargets(exportsMap) {
  const targets = [];
  const walk = (value) => {
    if (typeof value === "string") targets.push(value.replace(/^\.\//, ""));
    else if (value && typeof value === "object") Object.values(value).forEach(walk);
  };
  walk(exportsMap);
  return targets;
}

/** The first ```ts block under the "## Ten lines" heading of README.md. */
function tenLinesExample() {
  const readme = readFileSync(join(root, "README.md"), "utf8");
  const section = readme.split(/^## /m).find((part) => part.startsWith("Ten lines"));
  const code = section?.match(/```ts\n([\s\S]*?)```/)?.[1];
  if (!code) throw new Error('README.md has no ```ts block under "## Ten lines"');
  return code;
}

const workDir = mkdtempSync(join(tmpdir(), "concord-packages-"));
const cleanUp = () => rmSync(workDir, { recursive: true, force: true });
process.on("SIGINT", () => {
  cleanUp();
  process.exit(130);
});

try {
  if (!relative(root, workDir).startsWith("..")) throw new Error(`temp folder ${workDir} is inside the workspace ${root}`);
  const tarballDir = join(workDir, "tarballs");
  mkdirSync(tarballDir);

  const packages = readdirSync(join(root, "packages"), { withFileTypes: true })
    .filter((entry) => entry.isDirectory() && existsSync(join(root, "packages", entry.name, "package.json")))
    .map((entry) => ({ dir: join(root, "packages", entry.name), manifest: JSON.parse(readFileSync(join(root, "packages", entry.name, "package.json"), "utf8")) }))
    .filter(({ manifest }) => !manifest.private);
  console.log(`check-packages: ${packages.length} publishable packages (${packages.map(({ manifest }) => manifest.name).join(", ")}), Node ${process.version}`);

  console.log("\n1. pack (pnpm) and inspect the packed package.json");
  const tarballs = [];
  for (const { dir, manifest } of packages) {
    const expected = withoutSourceCondition(manifest.exports ?? {});
    if (JSON.stringify(manifest.publishConfig?.exports) !== JSON.stringify(expected)) {
      fail(`${manifest.name}: publishConfig.exports must equal exports without the "${SOURCE_CONDITION}" condition: ${JSON.stringify(expected)}`);
    }
    const before = new Set(readdirSync(tarballDir));
    const packed = pnpm(["pack", "--pack-destination", tarballDir], { cwd: dir });
    const tarball = readdirSync(tarballDir).find((file) => !before.has(file) && file.endsWith(".tgz"));
    if (packed.status !== 0 || !tarball) {
      fail(`${manifest.name}: pnpm pack failed\n${packed.output}`);
      continue;
    }
    const path = join(tarballDir, tarball);
    tarballs.push({ name: manifest.name, path });
    const entries = tarEntries(path);
    const packedManifest = JSON.parse(tarFile(path, "package.json"));
    const problems = [];
    for (const field of ["dependencies", "peerDependencies", "optionalDependencies"]) {
      for (const [dependency, range] of Object.entries(packedManifest[field] ?? {})) {
        if (String(range).startsWith("workspace:")) problems.push(`${field}.${dependency} is still ${range}`);
      }
    }
    if (JSON.stringify(packedManifest.exports).includes(SOURCE_CONDITION)) problems.push(`exports still has the ${SOURCE_CONDITION} condition`);
    for (const target of exportTargets(packedManifest.exports)) if (!entries.includes(target)) problems.push(`exports target ${target} is not in the tarball`);
    const stray = entries.filter((entry) => (entry.endsWith(".ts") && !entry.endsWith(".d.ts")) || entry.endsWith(".tsbuildinfo") || /\.test\./.test(entry));
    if (stray.length > 0) problems.push(`ships ${stray.join(", ")}`);
    if (problems.length > 0) fail(`${manifest.name} (${tarball}): ${problems.join("; ")}`);
    else ok(`${manifest.name}: ${tarball}, ${entries.length} files, ${Object.keys(packedManifest.exports).join(" ")}`);
  }

  console.log("\n2. publint --strict and attw --profile esm-only on each tarball");
  for (const { name, path } of tarballs) {
    const publint = run(bin("publint"), [path, "--strict"]);
    if (publint.status !== 0 || !/All good/.test(publint.output)) fail(`${name}: publint\n${publint.output}`);
    else ok(`${name}: publint all good`);
    // ESM-only profile: the packages are "type": "module" with import/default conditions only, by
    // design (DESIGN §2); the profile skips node10 resolution (no exports maps at all) and require()
    // from CommonJS, and checks node16-ESM and bundler resolution of every subpath.
    const attw = run(bin("attw"), [path, "--profile", "esm-only", "--format", "table-flipped"]);
    if (attw.status !== 0) fail(`${name}: attw\n${attw.output}`);
    else ok(`${name}: attw no problems (node16 ESM, bundler)`);
  }

  if (tarballs.length !== packages.length) throw new Error(`only ${tarballs.length} of ${packages.length} packages packed: not installing`);

  console.log("\n3. npm install of the tarballs into a fresh project outside the workspace");
  const project = join(workDir, "project");
  mkdirSync(project);
  writeFileSync(join(project, "package.json"), `${JSON.stringify({ name: "concord-packed-check", private: true, type: "module" }, null, 2)}\n`);
  const install = run(
    "npm",
    [
      "install",
      "--no-audit",
      "--no-fund",
      "--loglevel=warn",
      ...tarballs.map(({ path }) => path),
      `@tensorflow/tfjs-core@${TFJS_VERSION}`,
      `@tensorflow/tfjs-backend-cpu@${TFJS_VERSION}`,
      `@tensorflow/tfjs-backend-wasm@${TFJS_VERSION}`,
    ],
    { cwd: project },
  );
  const warnings = install.output.split("\n").filter((line) => /^npm (warn|WARN|error|ERR)/.test(line));
  if (install.status !== 0) {
    fail(`npm install failed (exit ${install.status})\n${install.output}`);
  } else {
    ok(`npm install: ${tarballs.length} tarballs + tfjs ${TFJS_VERSION}${warnings.length > 0 ? `, ${warnings.length} warning lines` : ", no warnings"}`);
    const engine = warnings.filter((line) => /EBADENGINE|Unsupported engine|required: \{/.test(line) || /engine/i.test(line));
    if (engine.length > 0) fail(`npm printed engine warnings on Node ${process.version}:\n    ${engine.join("\n    ")}`);
    else ok(`no engine warning on Node ${process.version}`);
    for (const line of warnings.filter((line) => !engine.includes(line))) console.log(`    ${line}`);
    const lock = JSON.parse(readFileSync(join(project, "package-lock.json"), "utf8"));
    const fromRegistry = Object.entries(lock.packages ?? {}).filter(
      ([path, entry]) => /node_modules\/@concord\//.test(path) && !String(entry.resolved ?? "").startsWith("file:"),
    );
    if (fromRegistry.length > 0) fail(`@concord packages not taken from the tarballs: ${fromRegistry.map(([path, entry]) => `${path} (${entry.resolved})`).join(", ")}`);
    else ok("every @concord package resolved to a local tarball");
  }

  console.log('\n4. the README\'s "Ten lines" example, run from the installed packages');
  if (install.status === 0) {
    const source = tenLinesExample();
    const { outputText } = ts.transpileModule(source, { compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 } });
    const check = `
;{
  // Appended by scripts/check-packages.mjs: the example must leave a finite trained result.
  const tf = await import("@tensorflow/tfjs-core");
  const trained = typeof result === "undefined" ? undefined : result;
  if (!trained || typeof trained !== "object" || !trained.params) throw new Error("the Ten lines example no longer defines \`result\` with trained params: update scripts/check-packages.mjs");
  const values = Object.values(trained.params).flatMap((tensor) => Array.from(tensor.dataSync()));
  const meanAbs = values.reduce((sum, value) => sum + Math.abs(value), 0) / values.length;
  console.log("TEN_LINES " + JSON.stringify({ backend: tf.getBackend(), iteration: trained.iteration, parameters: values.length, finite: values.length > 0 && values.every(Number.isFinite), meanAbs }));
}
`;
    writeFileSync(join(project, "ten-lines.mjs"), outputText + check);
    const started = Date.now();
    const example = run(process.execPath, ["ten-lines.mjs"], { cwd: project, timeout: 10 * 60 * 1000 });
    const seconds = ((Date.now() - started) / 1000).toFixed(1);
    const line = example.output.split("\n").find((text) => text.startsWith("TEN_LINES "));
    const summary = line ? JSON.parse(line.slice("TEN_LINES ".length)) : undefined;
    if (example.status !== 0 || !summary) fail(`the Ten lines example failed (exit ${example.status}, ${seconds} s)\n${example.output}`);
    else if (!summary.finite || !(summary.iteration > 0) || !Number.isFinite(summary.meanAbs)) fail(`the Ten lines example trained to a non-finite result: ${line}`);
    else ok(`Ten lines: ${summary.iteration} iterations on ${summary.backend} in ${seconds} s, ${summary.parameters} finite parameters, mean |θ| = ${summary.meanAbs.toFixed(4)}`);
  } else {
    fail("the Ten lines example was not run (npm install failed)");
  }
} catch (error) {
  fail(`check-packages crashed: ${error instanceof Error ? error.stack : String(error)}`);
} finally {
  cleanUp();
}

console.log(failures.length === 0 ? "\ncheck-packages: every check passed" : `\ncheck-packages: ${failures.length} check(s) failed`);
process.exit(failures.length === 0 ? 0 : 1);
