// The folders a job may make a worker touch: only those the worker was started with (its --store and
// its --data folders). A plug-in option naming a folder (Omniglot's dataDir, where images are read, and
// cacheDir, where a cache file is written and stale ones deleted) comes from the job, i.e. from anyone
// who can write to Redis; without this check it could name any folder the worker's user can reach.
import { existsSync, mkdirSync, realpathSync, statSync } from "node:fs";
import { basename, dirname, isAbsolute, join, resolve, sep } from "node:path";
import { ConcordError } from "@concord/core";
import { type ExperimentConfig, PLUGIN_KINDS, type PluginSpec } from "@concord/runner";

/** The worker's own folders, resolved through symlinks (realpath). */
export interface WorkerFolders {
  readonly store: string;
  readonly data: readonly string[];
}

/**
 * Option names that hold a file or folder: `dir`, `path`, `file`, `folder`, `root` (and plurals), or
 * a name ending in one of them capitalised (`dataDir`, `cacheDir`, `weightsPath`, `imageFolders`).
 * A plug-in of the worker's own --plugin files should name its path options so to have them confined.
 */
export const PATH_OPTION_NAME = /(?:^(?:dir|directory|path|file|folder|root)s?$)|(?:[a-z0-9](?:Dir|Directory|Path|File|Folder|Root)s?$)/;

/** The worker's store (created if missing) and data folders (each must exist), resolved through symlinks. */
export function workerFolders(store: string, dataDirs: readonly string[]): WorkerFolders {
  let storeReal: string;
  try {
    mkdirSync(store, { recursive: true });
    storeReal = realpathSync(store);
  } catch (error) {
    throw new ConcordError(
      `expected a folder the worker can create, got ${JSON.stringify(store)} (${(error as NodeJS.ErrnoException).code ?? String(error)})`,
      { field: "--store", cause: error },
    );
  }
  const data = dataDirs.map((dir) => {
    const absolute = resolve(dir);
    if (!existsSync(absolute) || !statSync(absolute).isDirectory())
      throw new ConcordError(`expected an existing folder, got ${JSON.stringify(dir)}`, { field: "--data" });
    return realpathSync(absolute);
  });
  return { store: storeReal, data };
}

/** `--store <store>` and `--data <dir>` …, for messages. */
export function describeFolders(folders: WorkerFolders): string {
  return [`--store ${folders.store}`, ...folders.data.map((dir) => `--data ${dir}`)].join(", ");
}

/**
 * Refuses `value` (option `field`) unless it is an absolute path without `..` that lies, after
 * resolving every symlink of its existing part, inside one of `roots`. A path whose tail does not exist
 * yet (a cache folder to be created) is judged by its deepest existing ancestor.
 */
export function confinePath(value: unknown, roots: readonly string[], field: string, allowed: string): string {
  const refuse = (what: string) => new ConcordError(`${what}; a job may name only paths inside this worker's folders (${allowed})`, { field });
  if (typeof value !== "string" || value.length === 0) throw refuse(`expected a path, got ${JSON.stringify(value)}`);
  if (!isAbsolute(value)) throw refuse(`expected an absolute path, got ${JSON.stringify(value)} (relative to what, on the worker?)`);
  if (value.split(/[\\/]/).includes("..")) throw refuse(`expected a path without "..", got ${JSON.stringify(value)}`);
  const real = realpathOfDeepestExisting(resolve(value));
  if (!roots.some((root) => real === root || real.startsWith(root.endsWith(sep) ? root : `${root}${sep}`))) {
    throw refuse(`${JSON.stringify(value)}${real === resolve(value) ? "" : ` (really ${real})`} is outside them`);
  }
  return real;
}

/**
 * Every path option (see PATH_OPTION_NAME, at any depth) of the plug-ins of `kinds` in `config`, the
 * evaluation sampler's when `kinds` has "tasks", confined to the worker's store and data folders.
 */
export function confineConfigPaths(config: ExperimentConfig, folders: WorkerFolders, kinds: readonly string[] = PLUGIN_KINDS): void {
  const roots = [folders.store, ...folders.data];
  const allowed = describeFolders(folders);
  const specs: [string, PluginSpec][] = PLUGIN_KINDS.filter((kind) => kinds.includes(kind)).map((kind) => [`job.config.${kind}`, config[kind]]);
  if (kinds.includes("tasks") && config.evaluation.sampler) specs.push(["job.config.evaluation.sampler", config.evaluation.sampler]);
  for (const [field, spec] of specs) walk(spec.options, field, false);

  function walk(value: unknown, field: string, isPath: boolean): void {
    if (Array.isArray(value)) {
      value.forEach((item, i) => walk(item, `${field}[${i}]`, isPath));
    } else if (value !== null && typeof value === "object") {
      for (const [key, inner] of Object.entries(value)) walk(inner, `${field}.${key}`, PATH_OPTION_NAME.test(key));
    } else if (isPath && value !== undefined) {
      confinePath(value, roots, field, allowed);
    }
  }
}

/** The real path of `path`'s deepest existing ancestor, with the rest of `path` appended. */
function realpathOfDeepestExisting(path: string): string {
  const rest: string[] = [];
  let current = path;
  while (!existsSync(current)) {
    const parent = dirname(current);
    if (parent === current) break;
    rest.unshift(basename(current));
    current = parent;
  }
  return join(realpathSync(current), ...rest);
}
