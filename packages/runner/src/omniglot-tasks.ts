import { existsSync, statSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { ConcordError, expect, expectInteger, type TaskSampler } from "@concord/core";
import { fewShot } from "@concord/tasks";
import { loadOmniglot, type Omniglot } from "@concord/tasks/node";

export interface OmniglotTasksOptions {
  /** Folder holding images_background/ and images_evaluation/. Default: see `resolveOmniglotDir`. */
  readonly dataDir?: string;
  readonly ways: number;
  readonly shots: number;
  /** Query images per class. Default `shots`, as MAML's code (it draws 2K images per class and splits them K/K). */
  readonly queryShots?: number;
  /** "train": MAML's 1200 training characters with 90° rotations as extra classes; "test": the other 423. Default "train". */
  readonly split?: "train" | "test";
  /** Add rotations to the training classes. Default true (MAML). */
  readonly rotations?: boolean;
  /** Where the decoded-image cache goes (default: the loaders' cache folder). */
  readonly cacheDir?: string;
}

export const OMNIGLOT_DOWNLOAD_HINT =
  "download images_background.zip and images_evaluation.zip from https://github.com/brendenlake/omniglot (folder python/) " +
  "and unzip both into that folder, so that it holds images_background/<Alphabet>/<characterNN>/*.png and images_evaluation/…";

/**
 * The default Omniglot folder, `../shared/data/omniglot` beside the repository (that is, relative to
 * the folder holding packages/), unless the CONCORD_OMNIGLOT_DIR environment variable names another.
 */
export function defaultOmniglotDir(): string {
  const fromEnv = process.env.CONCORD_OMNIGLOT_DIR;
  if (fromEnv) return resolve(fromEnv);
  // This file is packages/runner/{src,dist}/omniglot-tasks.*: the repository is three folders up.
  const repository = resolve(dirname(fileURLToPath(import.meta.url)), "../../..");
  return resolve(repository, "../shared/data/omniglot");
}

/** The Omniglot folder to use: `dataDir` when given, else the default; a missing folder is a ConcordError saying what to do. */
export function resolveOmniglotDir(dataDir?: string, field = "dataDir"): string {
  const dir = dataDir === undefined ? defaultOmniglotDir() : resolve(dataDir);
  const isFolder = (path: string) => existsSync(path) && statSync(path).isDirectory();
  if (!isFolder(dir) || !(isFolder(resolve(dir, "images_background")) || isFolder(resolve(dir, "images_evaluation")))) {
    const what = dataDir === undefined ? `no Omniglot data at the default folder ${dir}` : `no Omniglot data at ${dir}`;
    throw new ConcordError(`${what}: ${OMNIGLOT_DOWNLOAD_HINT}; or set ${field} (or CONCORD_OMNIGLOT_DIR) to where it is`, { field });
  }
  return dir;
}

const loaded = new Map<string, Promise<Omniglot>>();

/** Loads (once per folder and cache dir) the Omniglot set; training and evaluation samplers share it. */
export function loadOmniglotOnce(dir: string, cacheDir?: string): Promise<Omniglot> {
  const key = `${dir}\0${cacheDir ?? ""}`;
  let promise = loaded.get(key);
  if (!promise) {
    promise = loadOmniglot(dir, cacheDir === undefined ? {} : { cacheDir });
    promise.catch(() => loaded.delete(key));
    loaded.set(key, promise);
  }
  return promise;
}

/**
 * N-way K-shot Omniglot episodes with MAML's protocol (Finn et al. 2017): 28×28 inverted drawings,
 * a seeded split of the 1623 characters into 1200 for training (plus their 90°, 180°, 270° rotations
 * as new classes: 4800) and 423 for test; training and test characters never mix.
 */
export async function omniglotTasks(options: OmniglotTasksOptions): Promise<TaskSampler> {
  expect(options !== null && typeof options === "object", "options", "expected { ways, shots, queryShots?, split?, dataDir? }");
  const { ways, shots, queryShots = options.shots, split = "train", rotations = true } = options;
  expectInteger(ways, "ways", 2);
  expectInteger(shots, "shots", 1);
  expectInteger(queryShots, "queryShots", 1);
  expect(split === "train" || split === "test", "split", `expected "train" or "test", got ${JSON.stringify(split)}`);
  expect(typeof rotations === "boolean", "rotations", `expected true or false, got ${JSON.stringify(rotations)}`);
  expectInteger(shots + queryShots, "shots + queryShots", 2, 20); // Omniglot has 20 drawings per character
  const dir = resolveOmniglotDir(options.dataDir);
  const omniglot = await loadOmniglotOnce(dir, options.cacheDir);
  const mamlSplit = omniglot.mamlSplit({ rotations });
  const dataset = split === "train" ? mamlSplit.train : mamlSplit.test;
  const sampler = fewShot({ dataset, ways, shots, queryShots });
  return { ...sampler, name: `omniglot-${split}-${ways}way-${shots}shot` };
}

/** Option schema keys of the "omniglot" tasks plug-in (values are checked by omniglotTasks itself). */
export const OMNIGLOT_TASK_OPTION_KEYS = ["dataDir", "ways", "shots", "queryShots", "split", "rotations", "cacheDir"] as const;
