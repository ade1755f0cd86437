import * as tf from "@tensorflow/tfjs-core";
import { ConcordError, expect, expectInteger } from "@concord/core";
import type { Rng, Task, TaskSampler } from "@concord/core";
import type { ImageDataset } from "./image-dataset.js";

export interface FewShotOptions {
  readonly dataset: ImageDataset;
  /** N: classes per task. */
  readonly ways: number;
  /** K: support images per class. */
  readonly shots: number;
  /** Query images per class (disjoint from the support images). */
  readonly queryShots: number;
  /**
   * Probability in [0, 1] that a task's labels are noise: its support labels and its query labels are
   * each randomly permuted, so the images no longer predict their labels (the classification
   * analogue of the sinusoid's corrupted tasks). Default 0: no extra rng draws, the same task stream
   * as without the option.
   */
  readonly labelNoise?: number;
  /**
   * Draw every task's classes from one group: the first segment of the class names (Omniglot's
   * alphabet in `Alphabet/characterNN`, an image folder's top-level folder). The group is drawn with
   * probability proportional to its number of classes (each class as likely as without grouping),
   * among the groups with at least `ways` classes; tasks carry it as `group`, and `sampler.groups`
   * names the groups. Default false: classes from anywhere, no groups, the same task stream as before.
   */
  readonly sameGroup?: boolean;
}

/** One image of an episode: where it comes from and the label it gets in this episode. */
export interface EpisodeImage {
  readonly classIndex: number;
  readonly imageIndex: number;
  readonly label: number;
}

/** Which images an episode uses; `classes[label]` is the dataset class behind episode label `label`. */
export interface EpisodePlan {
  readonly classes: readonly number[];
  readonly support: readonly EpisodeImage[];
  readonly query: readonly EpisodeImage[];
}

/**
 * N-way K-shot classification episodes over any ImageDataset (Vinyals et al. 2016; MAML's protocol).
 *
 * Each task draws `ways` distinct classes with `rng`; the order of the draw is the label order, so
 * labels 0..ways−1 map to classes in a fresh random order every episode. From each class it draws
 * shots + queryShots distinct images: the first `shots` go to the support set, the rest to the query
 * set. Support x is float32 [ways·shots, h, w, c] (NHWC), y int32 [ways·shots], grouped by label
 * (label 0's images first); the query set likewise with queryShots. The same rng state gives the
 * same tasks. The caller owns (and disposes) the returned tensors.
 */
export function fewShot(options: FewShotOptions): TaskSampler {
  const { dataset, ways, shots, queryShots, labelNoise = 0, sameGroup = false } = options;
  expect(dataset !== null && typeof dataset === "object" && typeof dataset.copyImage === "function", "dataset", "expected an ImageDataset");
  expectInteger(ways, "ways", 1, dataset.classCount);
  expectInteger(shots, "shots", 1);
  expectInteger(queryShots, "queryShots", 1);
  expect(
    typeof labelNoise === "number" && labelNoise >= 0 && labelNoise <= 1,
    "labelNoise",
    `expected a probability in [0, 1], got ${JSON.stringify(labelNoise)}`,
  );
  for (let c = 0; c < dataset.classCount; c++) {
    const count = dataset.imageCount(c);
    if (count < shots + queryShots) {
      throw new ConcordError(`class ${c} (${dataset.className(c)}) has ${count} images, fewer than shots + queryShots = ${shots + queryShots}`, {
        field: "dataset",
      });
    }
  }
  expect(typeof sameGroup === "boolean", "sameGroup", `expected true or false, got ${JSON.stringify(sameGroup)}`);
  const grouping = sameGroup ? groupClasses(dataset, ways) : undefined;
  const [height, width, channels] = dataset.imageShape;

  const toBatch = (images: readonly EpisodeImage[]) => {
    const imageSize = height * width * channels;
    const x = new Float32Array(images.length * imageSize);
    const y = new Int32Array(images.length);
    images.forEach((image, n) => {
      dataset.copyImage(image.classIndex, image.imageIndex, x, n * imageSize);
      y[n] = image.label;
    });
    return { x: tf.tensor4d(x, [images.length, height, width, channels], "float32"), y: tf.tensor1d(y, "int32") };
  };

  return {
    name: `few-shot-${ways}way-${shots}shot`,
    ...(grouping ? { groups: grouping.names } : {}),
    sample(count: number, rng: Rng): Task[] {
      expectInteger(count, "count", 1);
      const tasks: Task[] = [];
      for (let t = 0; t < count; t++) {
        const group = grouping ? drawGroup(grouping, rng) : undefined;
        const plan = planEpisode(dataset, { ways, shots, queryShots }, rng, group === undefined ? undefined : grouping!.classes[group]);
        const noisy = labelNoise > 0 && rng.uniform(0, 1) < labelNoise;
        const support = noisy ? shuffleLabels(plan.support, rng) : plan.support;
        const query = noisy ? shuffleLabels(plan.query, rng) : plan.query;
        tasks.push({ support: toBatch(support), query: toBatch(query), ...(group === undefined ? {} : { group }) });
      }
      return tasks;
    },
  };
}

/** The classes of each group (first segment of the class name) that has at least `ways` classes, groups in name order. */
interface ClassGrouping {
  readonly names: readonly string[];
  readonly classes: readonly (readonly number[])[];
  /** Cumulative class counts, for drawing a group proportionally to its size. */
  readonly cumulative: readonly number[];
}

function groupClasses(dataset: ImageDataset, ways: number): ClassGrouping {
  const byName = new Map<string, number[]>();
  for (let c = 0; c < dataset.classCount; c++) {
    const name = dataset.className(c).split("/")[0]!;
    const members = byName.get(name) ?? [];
    members.push(c);
    byName.set(name, members);
  }
  const eligible = [...byName.entries()].filter(([, members]) => members.length >= ways).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  if (eligible.length === 0) {
    throw new ConcordError(`no group (first segment of the class names) has ${ways} classes, so no ${ways}-way task can come from one group`, {
      field: "sameGroup",
    });
  }
  const cumulative: number[] = [];
  for (const [, members] of eligible) cumulative.push((cumulative.at(-1) ?? 0) + members.length);
  return { names: eligible.map(([name]) => name), classes: eligible.map(([, members]) => members), cumulative };
}

/** A group index drawn with probability proportional to its number of classes (one rng draw). */
function drawGroup(grouping: ClassGrouping, rng: Rng): number {
  const total = grouping.cumulative[grouping.cumulative.length - 1]!;
  const pick = rng.int(total);
  let group = 0;
  while (pick >= grouping.cumulative[group]!) group += 1;
  return group;
}

/**
 * Draws one episode's classes and images (no pixels); `fewShot` builds its tensors from this. With
 * `fromClasses`, the episode's classes are drawn from that list only.
 */
export function planEpisode(
  dataset: ImageDataset,
  sizes: { ways: number; shots: number; queryShots: number },
  rng: Rng,
  fromClasses?: readonly number[],
): EpisodePlan {
  const { ways, shots, queryShots } = sizes;
  const classes = fromClasses
    ? sampleWithoutReplacement(fromClasses.length, ways, rng).map((k) => fromClasses[k]!)
    : sampleWithoutReplacement(dataset.classCount, ways, rng);
  const support: EpisodeImage[] = [];
  const query: EpisodeImage[] = [];
  classes.forEach((classIndex, label) => {
    const picked = sampleWithoutReplacement(dataset.imageCount(classIndex), shots + queryShots, rng);
    picked.forEach((imageIndex, k) => (k < shots ? support : query).push({ classIndex, imageIndex, label }));
  });
  // Group by label: support is [label 0 × shots, label 1 × shots, ...]; query likewise.
  return { classes, support, query };
}

/** The same images with their labels permuted at random (Fisher–Yates over the label vector). */
function shuffleLabels(images: readonly EpisodeImage[], rng: Rng): EpisodeImage[] {
  const labels = images.map((image) => image.label);
  for (let i = labels.length - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    [labels[i], labels[j]] = [labels[j]!, labels[i]!];
  }
  return images.map((image, n) => ({ ...image, label: labels[n]! }));
}

/** k distinct integers from [0, n) in random order: a partial Fisher–Yates shuffle, O(k) time and memory. */
function sampleWithoutReplacement(n: number, k: number, rng: Rng): number[] {
  const moved = new Map<number, number>();
  const out: number[] = [];
  for (let i = 0; i < k; i++) {
    const j = i + rng.int(n - i);
    const atJ = moved.get(j) ?? j;
    moved.set(j, moved.get(i) ?? i);
    out.push(atJ);
  }
  return out;
}
