import * as tf from "@tensorflow/tfjs-core";
import { createRng } from "@concord/core";
import type { Task } from "@concord/core";
import { describeEachBackend, tensorGrowth, expectConcordError } from "@concord/core/testing";
import { beforeAll, describe, expect, it } from "vitest";
import { sinusoid, sinusoidCurve } from "./sinusoid.js";

function disposeTasks(tasks: readonly Task[]): void {
  for (const task of tasks) tf.dispose([task.support.x, task.support.y, task.query.x, task.query.y]);
}

function values(t: tf.Tensor): number[] {
  return Array.from(t.dataSync());
}

describeEachBackend("sinusoid", () => {
  it("samples float32 [K, 1] support and query sets with the MAML defaults", () => {
    const sampler = sinusoid();
    expect(sampler.name).toBe("sinusoid");
    const { amplitudeBands, ...rest } = sampler.options;
    expect(rest).toEqual({
      amplitude: [0.1, 5],
      phase: [0, Math.PI],
      inputRange: [-5, 5],
      supportSize: 10,
      querySize: 10,
      corruption: undefined,
      bandProbabilities: undefined,
    });
    // Five bands of equal width 0.98 over [0.1, 5].
    [0.1, 1.08, 2.06, 3.04, 4.02, 5].forEach((edge, b) => expect(amplitudeBands[b]).toBeCloseTo(edge, 12));
    expect(sampler.groups).toEqual(["A in [0.1, 1.08)", "A in [1.08, 2.06)", "A in [2.06, 3.04)", "A in [3.04, 4.02)", "A in [4.02, 5]"]);
    const tasks = sampler.sample(4, createRng(0));
    expect(tasks).toHaveLength(4);
    for (const { support, query } of tasks) {
      for (const t of [support.x, support.y, query.x, query.y]) {
        expect(t.shape).toEqual([10, 1]);
        expect(t.dtype).toBe("float32");
      }
    }
    disposeTasks(tasks);
  });

  it("produces y = A sin(x − φ) (the reference script's convention) within the configured ranges", () => {
    const sampler = sinusoid({ supportSize: 5, querySize: 7 });
    const { tasks, info } = sampler.sampleWithInfo(200, createRng(1));
    let maxError = 0;
    tasks.forEach((task, i) => {
      const { amplitude, phase, corrupted } = info[i]!;
      expect(corrupted).toBe(false);
      expect(amplitude).toBeGreaterThanOrEqual(0.1);
      expect(amplitude).toBeLessThan(5);
      expect(phase).toBeGreaterThanOrEqual(0);
      expect(phase).toBeLessThan(Math.PI);
      expect(task.support.x.shape).toEqual([5, 1]);
      expect(task.query.x.shape).toEqual([7, 1]);
      for (const set of [task.support, task.query]) {
        const xs = values(set.x);
        const ys = values(set.y);
        xs.forEach((x, j) => {
          expect(x).toBeGreaterThanOrEqual(-5);
          expect(x).toBeLessThanOrEqual(5);
          // Independent of sinusoidCurve: sin(x − φ), not sin(x + φ).
          maxError = Math.max(maxError, Math.abs(ys[j]! - amplitude * Math.sin(x - phase)));
        });
      }
    });
    expect(maxError).toBeLessThan(5e-6); // float32 rounding of |y| ≤ 5
    // The draws cover the ranges (not stuck at one end).
    const amplitudes = info.map((t) => t.amplitude);
    expect(Math.min(...amplitudes)).toBeLessThan(0.6);
    expect(Math.max(...amplitudes)).toBeGreaterThan(4.5);
    disposeTasks(tasks);
  });

  it("does not leak tensors beyond the tasks it returns", () => {
    const sampler = sinusoid({ corruption: { fraction: 0.5 } });
    const rng = createRng(5);
    expect(tensorGrowth(() => disposeTasks(sampler.sample(10, rng)), 10)).toBe(0);
    const before = tf.memory().numTensors;
    const tasks = sampler.sample(3, rng);
    expect(tf.memory().numTensors - before).toBe(12);
    disposeTasks(tasks);
  });
});

describe("sinusoid sampling (backend independent)", () => {
  beforeAll(async () => {
    await tf.setBackend("cpu");
  });

  it("is deterministic per seed and differs across seeds", () => {
    const sampler = sinusoid({ corruption: { fraction: 0.3 } });
    const a = sampler.sampleWithInfo(6, createRng(11));
    const b = sampler.sampleWithInfo(6, createRng(11));
    const c = sampler.sampleWithInfo(6, createRng(12));
    expect(a.info).toEqual(b.info);
    a.tasks.forEach((task, i) => {
      const other = b.tasks[i]!;
      expect(values(task.support.x)).toEqual(values(other.support.x));
      expect(values(task.support.y)).toEqual(values(other.support.y));
      expect(values(task.query.x)).toEqual(values(other.query.x));
      expect(values(task.query.y)).toEqual(values(other.query.y));
    });
    expect(values(a.tasks[0]!.support.x)).not.toEqual(values(c.tasks[0]!.support.x));
    // sample() draws exactly what sampleWithInfo() draws.
    const plain = sampler.sample(6, createRng(11));
    expect(values(plain[5]!.query.y)).toEqual(values(a.tasks[5]!.query.y));
    [a.tasks, b.tasks, c.tasks, plain].forEach(disposeTasks);
  });

  it("honours custom ranges, including degenerate ones", () => {
    const sampler = sinusoid({ amplitude: [2, 2], phase: [0.5, 0.5], inputRange: [1, 1.5], supportSize: 3, querySize: 1 });
    const { tasks, info } = sampler.sampleWithInfo(20, createRng(2));
    for (const [i, task] of tasks.entries()) {
      expect(info[i]).toEqual({ amplitude: 2, phase: 0.5, corrupted: false, band: 0 });
      for (const x of [...values(task.support.x), ...values(task.query.x)]) {
        expect(x).toBeGreaterThanOrEqual(1);
        expect(x).toBeLessThanOrEqual(1.5);
      }
      expect(task.query.y.shape).toEqual([1, 1]);
    }
    disposeTasks(tasks);
  });

  it("corrupts about `fraction` of the tasks with N(0, noiseStd²) targets, keeping the inputs", () => {
    const count = 2000;
    const sampler = sinusoid({ supportSize: 5, querySize: 5, corruption: { fraction: 0.2, noiseStd: 3 } });
    const { tasks, info } = sampler.sampleWithInfo(count, createRng(3));
    const corrupted = info.filter((t) => t.corrupted).length;
    // Binomial(2000, 0.2): sd ≈ 17.9; allow 5 sd.
    expect(Math.abs(corrupted - 0.2 * count)).toBeLessThan(5 * Math.sqrt(count * 0.2 * 0.8));
    const noise: number[] = [];
    let cleanError = 0;
    let corruptedMatchingCurve = 0;
    tasks.forEach((task, i) => {
      const { amplitude, phase } = info[i]!;
      for (const set of [task.support, task.query]) {
        const xs = values(set.x);
        const ys = values(set.y);
        const curve = sinusoidCurve(amplitude, phase, xs);
        if (info[i]!.corrupted) {
          noise.push(...ys);
          if (ys.every((y, j) => Math.abs(y - curve[j]!) < 1e-3)) corruptedMatchingCurve++;
        } else {
          cleanError = Math.max(cleanError, ...ys.map((y, j) => Math.abs(y - curve[j]!)));
        }
        xs.forEach((x) => expect(Math.abs(x)).toBeLessThanOrEqual(5));
      }
    });
    expect(cleanError).toBeLessThan(5e-6);
    expect(corruptedMatchingCurve).toBe(0);
    const mean = noise.reduce((s, v) => s + v, 0) / noise.length;
    const std = Math.sqrt(noise.reduce((s, v) => s + (v - mean) ** 2, 0) / noise.length);
    expect(Math.abs(mean)).toBeLessThan(0.2);
    expect(std).toBeGreaterThan(2.8);
    expect(std).toBeLessThan(3.2);
    disposeTasks(tasks);
  });

  it("corrupts nothing at fraction 0 and everything at fraction 1", () => {
    const none = sinusoid({ corruption: { fraction: 0 } }).sampleWithInfo(50, createRng(4));
    const all = sinusoid({ corruption: { fraction: 1, noiseStd: 0.5 } }).sampleWithInfo(50, createRng(4));
    expect(none.info.every((t) => !t.corrupted)).toBe(true);
    expect(all.info.every((t) => t.corrupted)).toBe(true);
    disposeTasks(none.tasks);
    disposeTasks(all.tasks);
  });

  it("sinusoidCurve evaluates A sin(x − φ)", () => {
    expect(sinusoidCurve(2, Math.PI / 2, [0, Math.PI / 2, Math.PI])).toEqual([2 * Math.sin(-Math.PI / 2), 0, 2 * Math.sin(Math.PI / 2)]);
    expect(sinusoidCurve(3, 0, new Float32Array([0]))).toEqual([0]);
  });

  it("rejects bad options and arguments, naming the field", () => {
    expectConcordError(() => sinusoid({ amplitude: [5, 0.1] }), "amplitude", /low <= high/);
    expectConcordError(() => sinusoid({ phase: [0] as never }), "phase", /\[low, high\]/);
    expectConcordError(() => sinusoid({ inputRange: [-5, Number.NaN] }), "inputRange[1]", /finite number/);
    expectConcordError(() => sinusoid({ supportSize: 0 }), "supportSize", /integer >= 1/);
    expectConcordError(() => sinusoid({ querySize: 2.5 }), "querySize");
    expectConcordError(() => sinusoid({ corruption: { fraction: 1.5 } }), "corruption.fraction", /\[0, 1\]/);
    expectConcordError(() => sinusoid({ corruption: { fraction: 0.1, noiseStd: -1 } }), "corruption.noiseStd");
    expectConcordError(() => sinusoid({ corruption: 0.1 as never }), "corruption");
    expectConcordError(() => sinusoid({ name: "" }), "name");
    const sampler = sinusoid();
    expectConcordError(() => sampler.sample(0, createRng(0)), "count");
    expectConcordError(() => sampler.sample(2, undefined as never), "rng");
  });
});

describe("sinusoid amplitude bands (task groups)", () => {
  beforeAll(async () => {
    await tf.setBackend("cpu");
  });

  it("gives every task the band its amplitude falls in, without changing the task stream", () => {
    // The stream of a sampler with bands equals one drawn with the pre-band draw order: A, φ, x's.
    const { tasks, info } = sinusoid({ amplitudeBands: [0.1, 1, 2, 3, 4, 5] }).sampleWithInfo(200, createRng(3));
    const reference = createRng(3);
    info.forEach((task, i) => {
      expect(task.amplitude).toBe(reference.uniform(0.1, 5));
      expect(task.phase).toBe(reference.uniform(0, Math.PI));
      for (let k = 0; k < 20; k++) reference.uniform(-5, 5);
      const expected = task.amplitude < 1 ? 0 : task.amplitude < 2 ? 1 : task.amplitude < 3 ? 2 : task.amplitude < 4 ? 3 : 4;
      expect(task.band).toBe(expected);
      expect(tasks[i]!.group).toBe(expected);
    });
    expect(new Set(info.map((task) => task.band)).size).toBe(5);
    disposeTasks(tasks);
  });

  it("draws bands with the given probabilities (chi-square over 20 000 tasks)", () => {
    const probabilities = [0.45, 0.3, 0.15, 0.07, 0.03];
    const sampler = sinusoid({ amplitudeBands: [0.1, 1, 2, 3, 4, 5], bandProbabilities: probabilities, supportSize: 1, querySize: 1 });
    const counts = [0, 0, 0, 0, 0];
    const rng = createRng(9);
    for (let round = 0; round < 40; round++) {
      const { tasks, info } = sampler.sampleWithInfo(500, rng);
      for (const task of info) {
        counts[task.band]! += 1;
        // A lies inside its band.
        const [low, high] = [
          [0.1, 1],
          [1, 2],
          [2, 3],
          [3, 4],
          [4, 5],
        ][task.band]!;
        expect(task.amplitude).toBeGreaterThanOrEqual(low!);
        expect(task.amplitude).toBeLessThanOrEqual(high!);
      }
      disposeTasks(tasks);
    }
    const chiSquare = counts.reduce((sum, count, b) => sum + (count - 20_000 * probabilities[b]!) ** 2 / (20_000 * probabilities[b]!), 0);
    expect(chiSquare).toBeLessThan(18.47); // χ²(4) at p = 0.001
  });

  it("refuses bands that do not cover the amplitude range, and probabilities that are not one per band or do not sum to 1", () => {
    expect(() => sinusoid({ amplitudeBands: [0.5, 5] })).toThrow(/amplitudeBands.*start at amplitude\[0\] = 0.1/);
    expect(() => sinusoid({ amplitudeBands: [0.1, 3, 2, 5] })).toThrow(/increasing edges/);
    expect(() => sinusoid({ amplitudeBands: [0.1, 2, 5], bandProbabilities: [1] })).toThrow(/bandProbabilities.*expected 2 probabilities/);
    expect(() => sinusoid({ amplitudeBands: [0.1, 2, 5], bandProbabilities: [0.5, 0.6] })).toThrow(/sum to 1/);
  });
});
