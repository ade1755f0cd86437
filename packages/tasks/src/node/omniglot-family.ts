import { existsSync, statSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { ConcordError, expect, expectInteger, type PresetDefinition, type TaskFamilyDefinition, type TaskSampler } from "@concord/core";
import { z } from "zod";
import { fewShot } from "../few-shot.js";
import { OMNIGLOT_PREPROCESSING } from "../omniglot-preprocessing.js";
import { loadOmniglot, type Omniglot } from "./omniglot.js";

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
  /** Probability that a training task's labels are shuffled (see fewShot's labelNoise). Default 0. */
  readonly labelNoise?: number;
  /**
   * Draw every task's characters from one alphabet, and group tasks by alphabet (see fewShot's
   * sameGroup; rotated characters stay in their alphabet). Default false.
   */
  readonly sameAlphabet?: boolean;
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
  // This file is packages/tasks/{src,dist}/node/omniglot-family.*: the repository is four folders up.
  const repository = resolve(dirname(fileURLToPath(import.meta.url)), "../../../..");
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
  const sampler = fewShot({
    dataset,
    ways,
    shots,
    queryShots,
    ...(options.labelNoise !== undefined ? { labelNoise: options.labelNoise } : {}),
    ...(options.sameAlphabet !== undefined ? { sameGroup: options.sameAlphabet } : {}),
  });
  return { ...sampler, name: `omniglot-${split}-${ways}way-${shots}shot` };
}

interface OmniglotSetting {
  readonly ways: number;
  readonly shots: number;
  readonly innerLr: number;
  readonly innerSteps: number;
  readonly evaluationSteps: number;
  readonly metaBatchSize: number;
  readonly order: 1 | 2;
}

/**
 * MAML's Omniglot setting (Finn et al. 2017, sec. 5.2 and appendix A.1; reference code
 * `main.py` flags): the 4-block CNN with 64 filters and transductive batch norm, N-way K-shot
 * episodes with K query images per class (the code draws 2K images per class and splits them),
 * MAML's split (1200 training characters with rotations, the other 423 for test), inner SGD with
 * α, Adam β = 1e-3, 60 000 meta-iterations, 600 test tasks. α is the paper's, on Concord's mean
 * cross-entropy; MAML's code applies it to N × the mean (its per-example loss is divided by K and
 * summed), a step N times larger, and its network differs too (docs/REPRODUCTION.md, "The gaps";
 * examples/omniglot/configs/maml-code-5w1s-fo-60k.json is MAML's code's setting). The data folder is `tasks.dataDir`
 * (and `evaluation.sampler.dataDir`), default `../shared/data/omniglot` beside the repository.
 */
function omniglotConfig(setting: OmniglotSetting): Record<string, unknown> {
  const episodes = { ways: setting.ways, shots: setting.shots, queryShots: setting.shots };
  return {
    seed: 0,
    iterations: 60_000,
    metaBatchSize: setting.metaBatchSize,
    backend: "auto",
    weighting: "uniform",
    algorithm: { name: "maml", order: setting.order, innerSteps: setting.innerSteps },
    model: { name: "conv-net", ways: setting.ways, inputShape: [28, 28, 1], filters: 64, blocks: 4, batchNorm: "transductive" },
    tasks: { name: "omniglot", ...episodes, split: "train" },
    objective: "cross-entropy",
    innerOptimizer: { name: "sgd", lr: setting.innerLr },
    outerOptimizer: { name: "adam", lr: 0.001 },
    evaluation: { tasks: 600, innerSteps: setting.evaluationSteps, sampler: { name: "omniglot", ...episodes, split: "test" } },
    checkpointEvery: 500,
    logEvery: 50,
  };
}

const fiveWay = { ways: 5, innerLr: 0.4, innerSteps: 1, evaluationSteps: 3, metaBatchSize: 32 } as const;
const twentyWay = { ways: 20, innerLr: 0.1, innerSteps: 5, evaluationSteps: 5, metaBatchSize: 16 } as const;

const settings: readonly { name: string; setting: Omit<OmniglotSetting, "order">; paper: string; paperFirstOrder: string }[] = [
  { name: "omniglot-5w1s", setting: { ...fiveWay, shots: 1 }, paper: "MAML 98.7%", paperFirstOrder: "first-order MAML 98.3%" },
  { name: "omniglot-5w5s", setting: { ...fiveWay, shots: 5 }, paper: "MAML 99.9%", paperFirstOrder: "first-order MAML 99.2%" },
  { name: "omniglot-20w1s", setting: { ...twentyWay, shots: 1 }, paper: "MAML 95.8%", paperFirstOrder: "first-order MAML 89.4%" },
  { name: "omniglot-20w5s", setting: { ...twentyWay, shots: 5 }, paper: "MAML 98.9%", paperFirstOrder: "first-order MAML 97.9%" },
];

/** omniglot-5w1s, -5w5s, -20w1s (second-order MAML) and their first-order variants (suffix -fo). */
export const OMNIGLOT_PRESETS: readonly PresetDefinition[] = settings.flatMap(({ name, setting, paper, paperFirstOrder }) =>
  ([2, 1] as const).map((order) => {
    const { ways, shots, innerLr, innerSteps, evaluationSteps, metaBatchSize } = setting;
    return {
      name: order === 2 ? name : `${name}-fo`,
      description:
        `Omniglot ${ways}-way ${shots}-shot, MAML paper setting (${order === 2 ? "second" : "first"}-order): conv-net 4×64, ` +
        `${innerSteps} inner step${innerSteps > 1 ? "s" : ""} α=${innerLr} (${evaluationSteps} at test), meta-batch ${metaBatchSize}, ` +
        `Adam 1e-3, 60k iterations (paper: ${order === 2 ? paper : paperFirstOrder})`,
      config: omniglotConfig({ ...setting, order }),
    };
  }),
);

/** ANIL (Raghu et al. 2020): omniglot-5w1s with only the conv-net's linear head adapted in the inner loop (training and evaluation). */
export const OMNIGLOT_ANIL_PRESET: PresetDefinition = (() => {
  const config = omniglotConfig({ ...fiveWay, shots: 1, order: 2 });
  return {
    name: "omniglot-5w1s-anil",
    description: "Omniglot 5-way 1-shot with ANIL: as omniglot-5w1s (second-order), but the inner loop adapts only the head (head/weight, head/bias)",
    config: { ...config, algorithm: { ...(config.algorithm as Record<string, unknown>), adapt: "head" } },
  };
})();

/**
 * Where gradient agreement should help (issue 12): 5-way 1-shot first-order MAML in the budget this
 * machine trained before (meta-batch 8, α = 0.1, 5000 iterations), with 20% of the meta-training
 * tasks' labels shuffled; evaluated on clean test tasks. Compare with
 * `concord compare omniglot-5w1s-label-noise --weighting uniform,agreement --seeds 3`.
 */
export const OMNIGLOT_LABEL_NOISE_PRESET: PresetDefinition = (() => {
  const base = omniglotConfig({ ...fiveWay, shots: 1, order: 1, innerLr: 0.1, metaBatchSize: 8 });
  return {
    name: "omniglot-5w1s-label-noise",
    description: "Omniglot 5-way 1-shot, first-order MAML, meta-batch 8, α=0.1, 5000 iterations, 20% of training tasks with shuffled labels; clean evaluation",
    config: { ...base, iterations: 5000, tasks: { ...(base.tasks as Record<string, unknown>), labelNoise: 0.2 } },
  };
})();

/**
 * Options of the task-weighting schemes that take some, for `concord compare --weighting …` on the
 * weighting-lab presets (chosen once, not tuned): TR-MAML over the 50 alphabets of MAML's training
 * split; tail-risk on the worst 10% of a meta-batch (at meta-batch 8, the single worst task);
 * loss-softmax with τ = 0.5, of the order of an adapted 5-way task's cross-entropy.
 */
const omniglotWeightingOptions = {
  "tr-maml": { groups: 50, lr: 0.01 },
  "tail-risk": { alpha: 0.1 },
  "loss-softmax": { temperature: 0.5 },
};

/**
 * Label noise where an update can reveal it: 5-way 5-shot, with 20% of the training tasks' labels
 * shuffled. With one shot per class a shuffled task is still a consistent relabelling of its
 * support images, so no weighting can see it; with five, the shuffled support labels contradict
 * each other. First-order MAML, meta-batch 8, α = 0.1; clean evaluation.
 */
export const OMNIGLOT_LABEL_NOISE_5SHOT_PRESET: PresetDefinition = (() => {
  const base = omniglotConfig({ ...fiveWay, shots: 5, order: 1, innerLr: 0.1, metaBatchSize: 8 });
  return {
    name: "omniglot-5w5s-label-noise",
    description: "Omniglot 5-way 5-shot, first-order MAML, meta-batch 8, α=0.1, 2000 iterations, 20% of training tasks with shuffled labels; clean evaluation",
    config: {
      ...base,
      iterations: 2000,
      // A 5-shot iteration takes seconds on one core: checkpoint often, so a stopped lab run resumes.
      checkpointEvery: 50,
      tasks: { ...(base.tasks as Record<string, unknown>), labelNoise: 0.2 },
      compare: { algorithms: { reptile: { innerSteps: 5 } }, weightings: omniglotWeightingOptions },
    },
  };
})();

/**
 * Tasks grouped by alphabet (after TR-MAML's Omniglot experiments): each task's five characters
 * come from one alphabet, alphabets drawn in proportion to their size, so small alphabets are rare;
 * evaluation on test characters, also within one alphabet, reports the worst alphabet.
 */
export const OMNIGLOT_ALPHABETS_PRESET: PresetDefinition = (() => {
  const base = omniglotConfig({ ...fiveWay, shots: 1, order: 1, innerLr: 0.1, metaBatchSize: 8 });
  const evaluation = base.evaluation as { sampler: Record<string, unknown> };
  return {
    name: "omniglot-5w1s-alphabets",
    description:
      "Omniglot 5-way 1-shot within one alphabet per task (grouped by alphabet), first-order MAML, meta-batch 8, α=0.1, 2000 iterations; evaluated per test alphabet",
    config: {
      ...base,
      iterations: 2000,
      tasks: { ...(base.tasks as Record<string, unknown>), sameAlphabet: true },
      evaluation: { ...evaluation, sampler: { ...evaluation.sampler, sameAlphabet: true } },
      compare: { algorithms: { reptile: { innerSteps: 5 } }, weightings: omniglotWeightingOptions },
    },
  };
})();

/** Only these option names; their values are checked by omniglotTasks itself (ConcordErrors naming the field). */
const omniglotOptionsSchema = z.strictObject(
  Object.fromEntries(
    ["dataDir", "ways", "shots", "queryShots", "split", "rotations", "cacheDir", "labelNoise", "sameAlphabet"].map((key) => [key, z.unknown().optional()]),
  ),
);

/**
 * The "omniglot" task family: N-way K-shot episodes with MAML's protocol, the MAML paper presets,
 * data from `dataDir` (default: see `defaultOmniglotDir`). Configs name the evaluation split
 * explicitly (`evaluation.sampler`), so there is no separate evaluation variant.
 */
export const omniglotFamily: TaskFamilyDefinition<OmniglotTasksOptions> = {
  kind: "tasks",
  name: "omniglot",
  description: "N-way K-shot Omniglot episodes, MAML split (loads the data folder asynchronously)",
  options: omniglotOptionsSchema as unknown as z.ZodType<OmniglotTasksOptions>,
  create: (options) => omniglotTasks(options),
  // Evaluation is always on clean tasks.
  evaluationOptions: ({ labelNoise: _labelNoise, ...clean }) => clean,
  presets: [...OMNIGLOT_PRESETS, OMNIGLOT_LABEL_NOISE_PRESET, OMNIGLOT_ANIL_PRESET, OMNIGLOT_LABEL_NOISE_5SHOT_PRESET, OMNIGLOT_ALPHABETS_PRESET],
  preprocessing: OMNIGLOT_PREPROCESSING,
};
