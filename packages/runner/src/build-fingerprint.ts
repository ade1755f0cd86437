// Which build of Concord computes: workers and checkpoints carry it so that code from another commit
// (which may compute other numbers) is refused instead of silently mixed into a run.
import { createHash } from "node:crypto";
import { readdirSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join, relative, sep } from "node:path";
import { fileURLToPath } from "node:url";

/** The packages whose code decides a run's numbers; their built files are hashed. */
const COMPUTE_PACKAGES = [
  "@concord/core",
  "@concord/backend",
  "@concord/backend-native",
  "@concord/algorithms",
  "@concord/models",
  "@concord/optimizers",
  "@concord/weighting",
  "@concord/tasks",
  "@concord/runner",
] as const;
/** Published once per version (immutable on the registry): their version is enough. */
const VERSIONED_PACKAGES = ["@tensorflow/tfjs-core", "@tensorflow/tfjs-backend-cpu", "@tensorflow/tfjs-backend-wasm"] as const;

/** A package as the fingerprint sees it: name, version, and (for Concord's) the folder holding dist/. */
export interface FingerprintPackage {
  readonly name: string;
  readonly version: string | undefined;
  readonly dir?: string | undefined;
}

/**
 * SHA-256 (first 16 hex digits) over each package's name and version and, for packages with a `dir`,
 * every file under its dist/ that a packed tarball ships and that runs (not *.d.ts, *.map, *.test.*,
 * .tsbuildinfo), by relative path. The same from a workspace build and from the npm tarballs of it.
 */
export function fingerprintOf(packages: readonly FingerprintPackage[]): string {
  const hash = createHash("sha256");
  for (const pkg of packages) {
    hash.update(`${pkg.name}@${pkg.version ?? "absent"}\n`);
    if (!pkg.dir) continue;
    const dist = join(pkg.dir, "dist");
    for (const file of listFiles(dist).filter(shipsAndRuns).sort()) {
      hash.update(`${relative(dist, file).split(sep).join("/")} ${createHash("sha256").update(readFileSync(file)).digest("hex")}\n`);
    }
  }
  return hash.digest("hex").slice(0, 16);
}

let cached: string | undefined;

/** This process's build fingerprint (computed once): Concord's compute packages and the tfjs versions. */
export function buildFingerprint(): string {
  cached ??= fingerprintOf(computePackages());
  return cached;
}

function computePackages(): FingerprintPackage[] {
  const runnerDir = dirname(dirname(fileURLToPath(import.meta.url)));
  const require = createRequire(join(runnerDir, "package.json"));
  const backendDir = packageDir(require, "@concord/backend");
  const fromBackend = createRequire(join(backendDir ?? runnerDir, "package.json"));
  return [
    ...COMPUTE_PACKAGES.map((name) => {
      const dir = name === "@concord/runner" ? runnerDir : packageDir(require, name);
      return { name, version: dir ? readVersion(dir) : undefined, dir };
    }),
    ...VERSIONED_PACKAGES.map((name) => {
      const dir = packageDir(fromBackend, name);
      return { name, version: dir ? readVersion(dir) : undefined };
    }),
  ];
}

function packageDir(require: NodeJS.Require, name: string): string | undefined {
  try {
    return dirname(require.resolve(`${name}/package.json`));
  } catch {
    return undefined;
  }
}

function readVersion(dir: string): string | undefined {
  try {
    return (JSON.parse(readFileSync(join(dir, "package.json"), "utf8")) as { version?: string }).version;
  } catch {
    return undefined;
  }
}

function shipsAndRuns(file: string): boolean {
  return !/(\.d\.ts|\.d\.mts|\.map|\.tsbuildinfo)$/.test(file) && !/\.test\.[^/]*$/.test(file);
}

function listFiles(folder: string): string[] {
  let entries: import("node:fs").Dirent[];
  try {
    entries = readdirSync(folder, { withFileTypes: true });
  } catch {
    return [];
  }
  return entries.flatMap((entry) => (entry.isDirectory() ? listFiles(join(folder, entry.name)) : entry.isFile() ? [join(folder, entry.name)] : []));
}
