import * as tf from "@tensorflow/tfjs-core";
import "@tensorflow/tfjs-backend-cpu";
import { ConcordError, createRng } from "@concord/core";
import type { Task } from "@concord/core";
import { beforeAll, describe, expect, it } from "vitest";
import { fewShot, planEpisode } from "./few-shot.js";
import { packedImageDataset, type ImageDataset } from "./image-dataset.js";

/** 1×1×2 images whose pixels name themselves: (class, image index). */
function labelledDataset(classSizes: readonly number[]): ImageDataset {
  const pixels: number[] = [];
  classSizes.forEach((size, c) => {
    for (let i = 0; i < size; i++) pixels.push(c, i);
  });
  return packedImageDataset({ pixels: Float32Array.from(pixels), imageShape: [1, 1, 2], classSizes });
}

interface Seen {
  readonly classIndex: number;
  readonly imageIndex: number;
  readonly label: number;
}

function decode(batch: Task["support"]): Seen[] {
  const x = batch.x.dataSync();
  const y = batch.y.dataSync();
  return Array.from(y, (label, n) => ({ classIndex: x[2 * n]!, imageIndex: x[2 * n + 1]!, label }));
}

function disposeTasks(tasks: readonly Task[]): void {
  for (const task of tasks) tf.dispose([task.support.x, task.support.y, task.query.x, task.query.y]);
}

describe("fewShot", () => {
  beforeAll(async () => {
    await tf.setBackend("cpu");
  });
  const dataset = labelledDataset(Array.from({ length: 12 }, (_, c) => 6 + (c % 3)));

  it("returns NHWC float32 x and int32 labels of the requested sizes", () => {
    const sampler = fewShot({ dataset, ways: 5, shots: 2, queryShots: 3 });
    const tasks = sampler.sample(4, createRng(1));
    expect(tasks).toHaveLength(4);
    for (const task of tasks) {
      expect(task.support.x.shape).toEqual([10, 1, 1, 2]);
      expect(task.support.x.dtype).toBe("float32");
      expect(task.support.y.shape).toEqual([10]);
      expect(task.support.y.dtype).toBe("int32");
      expect(task.query.x.shape).toEqual([15, 1, 1, 2]);
      expect(task.query.y.shape).toEqual([15]);
    }
    disposeTasks(tasks);
  });

  it("labels 0..ways−1 each `shots` times, one class per label, support and query disjoint", () => {
    const sampler = fewShot({ dataset, ways: 5, shots: 2, queryShots: 3 });
    const tasks = sampler.sample(20, createRng(7));
    for (const task of tasks) {
      const support = decode(task.support);
      const query = decode(task.query);
      const supportCounts = new Map<number, number>();
      for (const s of support) supportCounts.set(s.label, (supportCounts.get(s.label) ?? 0) + 1);
      expect([...supportCounts.keys()].sort()).toEqual([0, 1, 2, 3, 4]);
      expect([...supportCounts.values()]).toEqual([2, 2, 2, 2, 2]);
      const queryCounts = new Map<number, number>();
      for (const q of query) queryCounts.set(q.label, (queryCounts.get(q.label) ?? 0) + 1);
      expect([...queryCounts.values()]).toEqual([3, 3, 3, 3, 3]);

      const classOfLabel = new Map<number, number>();
      for (const s of [...support, ...query]) {
        expect(classOfLabel.get(s.label) ?? s.classIndex).toBe(s.classIndex);
        classOfLabel.set(s.label, s.classIndex);
      }
      expect(new Set(classOfLabel.values()).size).toBe(5);

      const keys = [...support, ...query].map((s) => `${s.classIndex}:${s.imageIndex}`);
      expect(new Set(keys).size).toBe(keys.length); // no image twice, in or across the two sets
      for (const s of [...support, ...query]) expect(s.imageIndex).toBeLessThan(dataset.imageCount(s.classIndex));
    }
    disposeTasks(tasks);
  });

  it("remaps labels in a fresh random order per episode", () => {
    // If labels followed class order, label 0 would always hold the smallest class index.
    const plans = Array.from({ length: 200 }, (_, t) => planEpisode(dataset, { ways: 3, shots: 1, queryShots: 1 }, createRng(100 + t)));
    const labelZeroIsSmallest = plans.filter((plan) => plan.classes[0] === Math.min(...plan.classes)).length;
    expect(labelZeroIsSmallest).toBeGreaterThan(30); // ≈ 200/3 if uniform
    expect(labelZeroIsSmallest).toBeLessThan(110);
    // Every class gets drawn, over many episodes.
    expect(new Set(plans.flatMap((plan) => plan.classes)).size).toBe(12);
  });

  it("is deterministic for a seed and differs for another", () => {
    const sampler = fewShot({ dataset, ways: 4, shots: 1, queryShots: 2 });
    const draw = (seed: number) => {
      const tasks = sampler.sample(3, createRng(seed));
      const seen = tasks.map((task) => [decode(task.support), decode(task.query)]);
      disposeTasks(tasks);
      return seen;
    };
    expect(draw(5)).toEqual(draw(5));
    expect(draw(5)).not.toEqual(draw(6));
  });

  it("copies real pixels: a Uint8 dataset arrives as v / 255", () => {
    const bytes = packedImageDataset({ pixels: Uint8Array.from([0, 51, 102, 255]), imageShape: [1, 1, 1], classSizes: [2, 2] });
    const [task] = fewShot({ dataset: bytes, ways: 2, shots: 1, queryShots: 1 }).sample(1, createRng(3));
    const values = [...task!.support.x.dataSync(), ...task!.query.x.dataSync()].sort();
    expect(values).toEqual([0, 51, 102, 255].map((v) => Math.fround(v / 255)));
    disposeTasks([task!]);
  });

  it("leaves no tensor behind once the caller disposes the tasks", () => {
    const sampler = fewShot({ dataset, ways: 3, shots: 1, queryShots: 1 });
    const rng = createRng(2);
    const before = tf.memory().numTensors;
    for (let i = 0; i < 10; i++) disposeTasks(sampler.sample(2, rng));
    expect(tf.memory().numTensors).toBe(before);
  });

  it("rejects classes with fewer than shots + queryShots images, naming the class", () => {
    const small = packedImageDataset({ pixels: new Float32Array(7), imageShape: [1, 1, 1], classSizes: [4, 3], classNames: ["big", "tiny"] });
    expect(() => fewShot({ dataset: small, ways: 2, shots: 2, queryShots: 2 })).toThrow(/class 1 \(tiny\) has 3 images, fewer than shots \+ queryShots = 4/);
    expect(() => fewShot({ dataset: small, ways: 2, shots: 1, queryShots: 2 })).not.toThrow();
  });

  it("rejects bad sizes with a ConcordError naming the field", () => {
    expect(() => fewShot({ dataset, ways: 13, shots: 1, queryShots: 1 })).toThrow(/ways: expected an integer in \[1, 12\]/);
    expect(() => fewShot({ dataset, ways: 2, shots: 0, queryShots: 1 })).toThrow(/shots/);
    expect(() => fewShot({ dataset, ways: 2, shots: 1, queryShots: 1.5 })).toThrow(/queryShots/);
    expect(() => fewShot({ dataset: {} as ImageDataset, ways: 2, shots: 1, queryShots: 1 })).toThrow(ConcordError);
    expect(() => fewShot({ dataset, ways: 2, shots: 1, queryShots: 1 }).sample(0, createRng(1))).toThrow(/count/);
  });
});

describe("fewShot labelNoise (tasks whose labels are shuffled)", () => {
  beforeAll(async () => {
    await tf.setBackend("cpu");
  });
  const dataset = labelledDataset(Array.from({ length: 12 }, () => 8));
  const sizes = { dataset, ways: 5, shots: 2, queryShots: 3 };
  /** A task is clean when every image's label is the label its class has in the episode (support and query agree). */
  const isClean = (task: Task) => {
    const labelOf = new Map<number, number>();
    return [...decode(task.support), ...decode(task.query)].every((seen) => {
      const label = labelOf.get(seen.classIndex) ?? seen.label;
      labelOf.set(seen.classIndex, label);
      return label === seen.label;
    });
  };

  it("labelNoise 0 draws nothing extra: the same task stream, bit for bit, as without the option", () => {
    const plain = fewShot(sizes).sample(6, createRng(3));
    const zero = fewShot({ ...sizes, labelNoise: 0 }).sample(6, createRng(3));
    plain.forEach((task, t) => {
      expect(Array.from(zero[t]!.support.x.dataSync())).toEqual(Array.from(task.support.x.dataSync()));
      expect(Array.from(zero[t]!.query.y.dataSync())).toEqual(Array.from(task.query.y.dataSync()));
    });
    disposeTasks([...plain, ...zero]);
  });

  it("labelNoise 1: the first task has the clean task's images with its labels permuted within each set", () => {
    const clean = fewShot(sizes).sample(1, createRng(5))[0]!;
    const noisy = fewShot({ ...sizes, labelNoise: 1 }).sample(1, createRng(5))[0]!;
    for (const set of ["support", "query"] as const) {
      const a = decode(clean[set]);
      const b = decode(noisy[set]);
      expect(b.map(({ classIndex, imageIndex }) => [classIndex, imageIndex])).toEqual(a.map(({ classIndex, imageIndex }) => [classIndex, imageIndex]));
      expect(b.map((seen) => seen.label).sort()).toEqual(a.map((seen) => seen.label).sort());
    }
    disposeTasks([clean, noisy]);
  });

  it("shuffles about the requested fraction of tasks, and none with labelNoise 0", () => {
    const count = 400;
    const noisy = fewShot({ ...sizes, labelNoise: 0.3 }).sample(count, createRng(7));
    const shuffled = noisy.filter((task) => !isClean(task)).length;
    // Binomial(400, 0.3): mean 120, sd ≈ 9.2; a shuffle that happens to keep labels consistent is rare (< 1%).
    expect(shuffled).toBeGreaterThan(120 - 4 * 9.2);
    expect(shuffled).toBeLessThan(120 + 4 * 9.2);
    const clean = fewShot(sizes).sample(50, createRng(7));
    expect(clean.every(isClean)).toBe(true);
    disposeTasks([...noisy, ...clean]);
  });

  it("refuses a labelNoise outside [0, 1], naming the field", () => {
    for (const labelNoise of [-0.1, 1.5, Number.NaN]) {
      expect(() => fewShot({ ...sizes, labelNoise })).toThrow(ConcordError);
      expect(() => fewShot({ ...sizes, labelNoise })).toThrow(/labelNoise/);
    }
  });
});

describe("fewShot with sameGroup (tasks grouped by the first segment of the class names)", () => {
  beforeAll(async () => {
    await tf.setBackend("cpu");
  });
  // Alphabets: "Big" has 6 classes, "Mid" 3, "Tiny" 1 (too small for 2-way tasks), in shuffled storage order.
  const names = ["Mid/c0", "Big/c0", "Big/c1", "Tiny/c0", "Big/c2", "Mid/c1", "Big/c3", "Big/c4", "Mid/c2", "Big/c5"];
  const pixels: number[] = [];
  names.forEach((_, c) => {
    for (let i = 0; i < 4; i++) pixels.push(c, i);
  });
  const dataset = packedImageDataset({ pixels: Float32Array.from(pixels), imageShape: [1, 1, 2], classSizes: names.map(() => 4), classNames: names });
  const groupOf = (classIndex: number) => names[classIndex]!.split("/")[0]!;

  it("declares the groups with at least `ways` classes, in name order, and draws every task's classes from its group", () => {
    const sampler = fewShot({ dataset, ways: 2, shots: 1, queryShots: 1, sameGroup: true });
    expect(sampler.groups).toEqual(["Big", "Mid"]);
    const tasks = sampler.sample(300, createRng(4));
    const counts = [0, 0];
    for (const task of tasks) {
      const seen = [...decode(task.support), ...decode(task.query)];
      const group = sampler.groups![task.group!]!;
      counts[task.group!]! += 1;
      for (const image of seen) expect(groupOf(image.classIndex)).toBe(group);
    }
    // Groups drawn in proportion to their classes: Big 6/9, Mid 3/9 (binomial sd ≈ 8 tasks of 300).
    expect(Math.abs(counts[0]! - 200)).toBeLessThan(40);
    disposeTasks(tasks);
  });

  it("changes nothing without the option: no groups, the same task stream", () => {
    const plain = fewShot({ dataset, ways: 2, shots: 1, queryShots: 1 });
    const explicit = fewShot({ dataset, ways: 2, shots: 1, queryShots: 1, sameGroup: false });
    expect(plain.groups).toBeUndefined();
    const [a, b] = [plain.sample(5, createRng(8)), explicit.sample(5, createRng(8))];
    a.forEach((task, i) => {
      expect(task.group).toBeUndefined();
      expect(decode(task.support)).toEqual(decode(b[i]!.support));
    });
    disposeTasks([...a, ...b]);
  });

  it("refuses a grouping in which no group has `ways` classes, naming the option", () => {
    expect(() => fewShot({ dataset, ways: 7, shots: 1, queryShots: 1, sameGroup: true })).toThrow(ConcordError);
    expect(() => fewShot({ dataset, ways: 7, shots: 1, queryShots: 1, sameGroup: true })).toThrow(/no group .* has 7 classes/);
  });
});
