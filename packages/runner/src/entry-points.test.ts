// What Concord's entry points do when imported, checked across every package (the runner sees them
// all): importing one changes nothing in TensorFlow.js (only @concord/backend's useBackend does), and
// the main entries of the library packages bundle for a browser (no Node built-in anywhere in what
// they import; Node-only code sits behind `./node`).
import { execFileSync, spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { builtinModules, createRequire } from "node:module";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const packageDir = fileURLToPath(new URL("../", import.meta.url));
const packagesDir = resolve(packageDir, "..");

/** Every entry point with a build; `@concord/core/testing` is source-only (test helpers), so absent. */
const ENTRY_POINTS = [
  "@concord/core",
  "@concord/backend",
  "@concord/tasks",
  "@concord/tasks/node",
  "@concord/models",
  "@concord/optimizers",
  "@concord/weighting",
  "@concord/weighting/testing",
  "@concord/algorithms",
  "@concord/algorithms/node",
  "@concord/report",
  "@concord/report/node",
  "@concord/runner",
];

interface Report {
  imports: { entry: string; error?: string; changed: string[] }[];
  setup: { backend: string; changed: string[] };
}

describe("importing Concord's entry points in plain Node", () => {
  it("leaves TensorFlow.js's kernel and gradient registries, backends and Engine.clone exactly as they were; useBackend() changes them", () => {
    // Builds this package and, through its project references, every package it imports.
    execFileSync(process.execPath, [createRequire(import.meta.url).resolve("typescript/bin/tsc"), "-b"], { cwd: packageDir, stdio: "pipe" });
    const run = spawnSync(process.execPath, ["scripts/registries-on-import.mjs", ...ENTRY_POINTS], { cwd: packageDir, encoding: "utf8" });
    expect(run.status, run.stderr).toBe(0);
    const report = JSON.parse(run.stdout.trim().split("\n").at(-1) ?? "{}") as Report;
    expect(report.imports.map((i) => i.entry)).toEqual(ENTRY_POINTS);
    for (const { entry, error, changed } of report.imports) {
      expect(changed, `${entry} changed tfjs on import`).toEqual([]);
      // The conformance suite needs a running vitest; anything else must load.
      if (entry === "@concord/weighting/testing") expect(error ?? "", entry).toMatch(/^$|Vitest failed to access its internal state/);
      else expect(error, entry).toBeUndefined();
    }
    // The setup call is what changes tfjs: the cpu backend, Concord's gradients and kernels, the clone patch.
    const changed = new Set(report.setup.changed);
    expect(report.setup.backend).toBe("cpu");
    for (const expected of ["backend cpu", "gradient Tanh", "gradient Conv2D", "kernel cpu_ConcordAdamUpdate", "kernel cpu_Tile", "Engine.clone"]) {
      expect(changed, expected).toContain(expected);
    }
    expect(changed).not.toContain("Engine.prototype.clone");
  });
});

/** The package folder and source file of an `@concord/<name>[/<subpath>]` import, through its exports map. */
function sourceOf(specifier: string): string {
  const [, name, subpath] = /^@concord\/([^/]+)(\/.+)?$/.exec(specifier)!;
  const dir = join(packagesDir, name!);
  const manifest = JSON.parse(readFileSync(join(dir, "package.json"), "utf8")) as { exports: Record<string, { "@concord/source"?: string }> };
  const target = manifest.exports[`.${subpath ?? ""}`]?.["@concord/source"];
  if (!target) throw new Error(`${specifier} has no @concord/source export`);
  return join(dir, target);
}

const IMPORT = /(?:^|[^.\w])(?:import|export)\s[^;]*?from\s*"([^"]+)"|(?:^|[^.\w])import\s*\(?\s*"([^"]+)"/gm;
const NODE_BUILTINS = new Set(builtinModules);

/** Node built-ins imported anywhere in the source graph reachable from `entry` (type-only imports included, to be strict). */
function nodeImportsReachableFrom(entry: string): string[] {
  const seen = new Set<string>();
  const found: string[] = [];
  const visit = (file: string) => {
    if (seen.has(file)) return;
    seen.add(file);
    const text = readFileSync(file, "utf8").replace(/^\s*\/\/.*$/gm, "");
    for (const match of text.matchAll(IMPORT)) {
      const specifier = (match[1] ?? match[2])!;
      if (specifier.startsWith("node:") || NODE_BUILTINS.has(specifier.split("/")[0]!))
        found.push(`${file.slice(packagesDir.length + 1)} imports ${specifier}`);
      else if (specifier.startsWith(".")) visit(resolve(dirname(file), specifier.replace(/\.js$/, ".ts")));
      else if (specifier.startsWith("@concord/")) visit(sourceOf(specifier));
    }
  };
  visit(entry);
  return found;
}

describe("main entries bundle for a browser", () => {
  for (const name of ["core", "backend", "tasks", "models", "optimizers", "weighting", "algorithms", "report"]) {
    it(`@concord/${name}: no Node built-in in anything its main entry imports`, () => {
      expect(nodeImportsReachableFrom(sourceOf(`@concord/${name}`))).toEqual([]);
    });
  }

  it("the check sees Node imports where they are (the ./node entries)", () => {
    expect(nodeImportsReachableFrom(sourceOf("@concord/algorithms/node")).join("\n")).toMatch(/imports node:worker_threads/);
    expect(nodeImportsReachableFrom(sourceOf("@concord/tasks/node"))).not.toEqual([]);
    expect(nodeImportsReachableFrom(sourceOf("@concord/report/node")).join("\n")).toMatch(/imports node:fs\/promises/);
  });
});
