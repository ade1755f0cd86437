import * as tf from "@tensorflow/tfjs-core";
import { ConcordError, expect, expectInteger, expectNumber } from "@concord/core";
import type { Rng, Task, TaskSampler } from "@concord/core";

/** A closed interval [low, high] with low ≤ high. */
export type NumberRange = readonly [low: number, high: number];

export interface SinusoidCorruption {
  /** Probability that a sampled task is corrupted, in [0, 1]. */
  readonly fraction: number;
  /** Standard deviation of the noise that replaces a corrupted task's targets. Default 3. */
  readonly noiseStd?: number;
}

export interface SinusoidOptions {
  /** Amplitude A ~ U[low, high]. Default [0.1, 5]. */
  readonly amplitude?: NumberRange;
  /** Phase φ ~ U[low, high]. Default [0, π]. */
  readonly phase?: NumberRange;
  /** Inputs x ~ U[low, high]. Default [−5, 5]. */
  readonly inputRange?: NumberRange;
  /** Points in each support set. Default 10. */
  readonly supportSize?: number;
  /** Points in each query set. Default 10. */
  readonly querySize?: number;
  /** Replace the targets of some tasks by pure noise (outlier tasks). Default: none. */
  readonly corruption?: SinusoidCorruption;
  /**
   * Edges of the amplitude bands that are the task groups (`Task.group`, `sampler.groups`), increasing,
   * from amplitude low to amplitude high. Default: 5 bands of equal width. The squared error of an
   * adapted fit grows with A², so the bands order the tasks by difficulty and a per-band evaluation
   * shows which amplitudes a method neglects; 5 bands keep 120 of 600 evaluation tasks in each.
   */
  readonly amplitudeBands?: readonly number[];
  /**
   * Probability of each amplitude band (one per band, summing to 1): the band is drawn first, then A
   * uniformly within it, so some bands can be made rare (TR-MAML's imbalanced task distributions).
   * Default: none, A ~ U[amplitude] and the band follows from A.
   */
  readonly bandProbabilities?: readonly number[];
  /** Sampler name. Default "sinusoid". */
  readonly name?: string;
}

/** The options after defaults are applied. */
export interface ResolvedSinusoidOptions {
  readonly amplitude: NumberRange;
  readonly phase: NumberRange;
  readonly inputRange: NumberRange;
  readonly supportSize: number;
  readonly querySize: number;
  readonly corruption: Required<SinusoidCorruption> | undefined;
  readonly amplitudeBands: readonly number[];
  readonly bandProbabilities: readonly number[] | undefined;
}

/** The hidden parameters of one sampled task. */
export interface SinusoidTaskInfo {
  readonly amplitude: number;
  readonly phase: number;
  /** True when the task's support and query targets are noise instead of A sin(x − φ). */
  readonly corrupted: boolean;
  /** The amplitude band A falls in (the task's group). */
  readonly band: number;
}

export interface SinusoidSampler extends TaskSampler {
  readonly options: ResolvedSinusoidOptions;
  /** Same tasks as `sample` (same rng draws) plus each task's amplitude, phase and corruption flag. */
  sampleWithInfo(count: number, rng: Rng): { tasks: Task[]; info: SinusoidTaskInfo[] };
}

/** The clean target curve y = A sin(x − φ) at every x (plain numbers, for plots and evaluation). */
export function sinusoidCurve(amplitude: number, phase: number, xs: ArrayLike<number>): number[] {
  return Array.from(xs, (x) => amplitude * Math.sin(x - phase));
}

/**
 * Sinusoid regression tasks (MAML, Finn et al. 2017, sec. 5.1): each task is y = A sin(x − φ) with
 * A ~ U[0.1, 5], φ ~ U[0, π], and x ~ U[−5, 5] drawn independently for the support (K = 10) and
 * query (10) sets. x and y are float32 tensors of shape [K, 1]. Every number comes from `rng`.
 *
 * With `corruption`, each task is independently corrupted with probability `fraction`: its support
 * and query targets are replaced by draws from N(0, noiseStd²) (the inputs are kept).
 *
 * Draw order per task (fixed, so a seed fixes the stream): A, φ, support x, query x, then — only
 * when `corruption` is set — one uniform for the corruption decision and, if corrupted, the noise
 * for the support then query targets. With `bandProbabilities`, one uniform picks the band before
 * A (which is then uniform within the band); without it no draw is added.
 *
 * Every task carries its amplitude band as `group`; `sampler.groups` names the bands ("A in [1, 2)").
 */
export function sinusoid(options: SinusoidOptions = {}): SinusoidSampler {
  expect(options !== null && typeof options === "object", "options", `expected an options object, got ${JSON.stringify(options)}`);
  const amplitude = validateRange(options.amplitude ?? [0.1, 5], "amplitude");
  const amplitudeBands = validateBands(options.amplitudeBands, amplitude);
  const resolved: ResolvedSinusoidOptions = {
    amplitude,
    phase: validateRange(options.phase ?? [0, Math.PI], "phase"),
    inputRange: validateRange(options.inputRange ?? [-5, 5], "inputRange"),
    supportSize: validateSize(options.supportSize ?? 10, "supportSize"),
    querySize: validateSize(options.querySize ?? 10, "querySize"),
    corruption: validateCorruption(options.corruption),
    amplitudeBands,
    bandProbabilities: validateBandProbabilities(options.bandProbabilities, amplitudeBands.length - 1),
  };
  const { bandProbabilities } = resolved;
  const bandCount = amplitudeBands.length - 1;
  const groups = Array.from({ length: bandCount }, (_, b) => {
    const last = b === bandCount - 1;
    return `A in [${formatEdge(amplitudeBands[b]!)}, ${formatEdge(amplitudeBands[b + 1]!)}${last ? "]" : ")"}`;
  });
  const bandOf = (amplitude: number): number => {
    let band = 0;
    while (band < bandCount - 1 && amplitude >= amplitudeBands[band + 1]!) band += 1;
    return band;
  };
  const drawAmplitude = (rng: Rng): number => {
    if (bandProbabilities === undefined) return rng.uniform(...resolved.amplitude);
    const u = rng.next();
    let band = 0;
    let cumulative = bandProbabilities[0]!;
    while (band < bandCount - 1 && u >= cumulative) {
      band += 1;
      cumulative += bandProbabilities[band]!;
    }
    // The band's upper edge belongs to the next band (except the last), so stay below it.
    const high = amplitudeBands[band + 1]!;
    const amplitude = rng.uniform(amplitudeBands[band]!, high);
    return band < bandCount - 1 && amplitude >= high ? amplitudeBands[band]! : amplitude;
  };
  const name = options.name ?? "sinusoid";
  expect(typeof name === "string" && name.length > 0, "name", `expected a non-empty string, got ${JSON.stringify(name)}`);

  function drawInputs(rng: Rng, size: number): Float32Array {
    const [low, high] = resolved.inputRange;
    return Float32Array.from({ length: size }, () => rng.uniform(low, high));
  }

  function sampleOne(rng: Rng): { task: Task; info: SinusoidTaskInfo } {
    const amplitude = drawAmplitude(rng);
    const phase = rng.uniform(...resolved.phase);
    const supportX = drawInputs(rng, resolved.supportSize);
    const queryX = drawInputs(rng, resolved.querySize);
    const corruption = resolved.corruption;
    const corrupted = corruption !== undefined && rng.next() < corruption.fraction;
    // Targets are computed from the float32-rounded inputs, so y = A sin(x − φ) holds for the stored x.
    const targets = (xs: Float32Array): Float32Array =>
      corrupted ? rng.normalArray(xs.length, corruption!.noiseStd) : Float32Array.from(sinusoidCurve(amplitude, phase, xs));
    const supportY = targets(supportX);
    const queryY = targets(queryX);
    const batch = (x: Float32Array, y: Float32Array) => ({
      x: tf.tensor2d(x, [x.length, 1], "float32"),
      y: tf.tensor2d(y, [y.length, 1], "float32"),
    });
    const band = bandOf(amplitude);
    return {
      task: { support: batch(supportX, supportY), query: batch(queryX, queryY), group: band },
      info: { amplitude, phase, corrupted, band },
    };
  }

  function sampleWithInfo(count: number, rng: Rng): { tasks: Task[]; info: SinusoidTaskInfo[] } {
    expectInteger(count, "count", 1);
    expect(rng !== null && typeof rng === "object" && typeof rng.uniform === "function", "rng", "expected a Concord Rng (createRng)");
    const tasks: Task[] = [];
    const info: SinusoidTaskInfo[] = [];
    for (let i = 0; i < count; i++) {
      const drawn = sampleOne(rng);
      tasks.push(drawn.task);
      info.push(drawn.info);
    }
    return { tasks, info };
  }

  return {
    name,
    groups,
    options: resolved,
    sampleWithInfo,
    sample: (count, rng) => sampleWithInfo(count, rng).tasks,
  };
}

function validateRange(range: unknown, field: string): NumberRange {
  if (!Array.isArray(range) || range.length !== 2) {
    throw new ConcordError(`expected a range [low, high], got ${JSON.stringify(range)}`, { field });
  }
  const [low, high] = range as unknown[];
  expectNumber(low, `${field}[0]`);
  expectNumber(high, `${field}[1]`);
  expect(low <= high, field, `expected low <= high, got [${low}, ${high}]`);
  return [low, high];
}

/** Equal-width bands over the amplitude range unless `bands` gives the edges; checked to cover the range. */
function validateBands(bands: unknown, amplitude: NumberRange): readonly number[] {
  const [low, high] = amplitude;
  if (bands === undefined) {
    const count = low < high ? 5 : 1;
    return Array.from({ length: count + 1 }, (_, b) => (b === count ? high : low + ((high - low) * b) / count));
  }
  if (!Array.isArray(bands) || bands.length < 2) {
    throw new ConcordError(`expected at least two band edges, got ${JSON.stringify(bands)}`, { field: "amplitudeBands" });
  }
  bands.forEach((edge, b) => expectNumber(edge, `amplitudeBands[${b}]`));
  for (let b = 1; b < bands.length; b++) {
    expect(bands[b] > bands[b - 1], "amplitudeBands", `expected increasing edges, got ${JSON.stringify(bands)}`);
  }
  expect(
    bands[0] === low && bands[bands.length - 1] === high,
    "amplitudeBands",
    `expected the edges to start at amplitude[0] = ${low} and end at amplitude[1] = ${high}, got ${JSON.stringify(bands)}`,
  );
  return bands as number[];
}

function validateBandProbabilities(probabilities: unknown, bandCount: number): readonly number[] | undefined {
  if (probabilities === undefined) return undefined;
  if (!Array.isArray(probabilities) || probabilities.length !== bandCount) {
    throw new ConcordError(`expected ${bandCount} probabilities (one per amplitude band), got ${JSON.stringify(probabilities)}`, {
      field: "bandProbabilities",
    });
  }
  probabilities.forEach((p, b) => expectNumber(p, `bandProbabilities[${b}]`, 0, 1));
  const total = (probabilities as number[]).reduce((sum, p) => sum + p, 0);
  expect(Math.abs(total - 1) < 1e-9, "bandProbabilities", `expected probabilities that sum to 1, got a sum of ${total}`);
  return probabilities as number[];
}

/** A band edge for a group name: at most 3 decimals, no trailing zeros. */
function formatEdge(edge: number): string {
  return String(Number(edge.toFixed(3)));
}

function validateSize(size: unknown, field: string): number {
  expectInteger(size, field, 1);
  return size;
}

function validateCorruption(corruption: unknown): Required<SinusoidCorruption> | undefined {
  if (corruption === undefined) return undefined;
  expect(corruption !== null && typeof corruption === "object", "corruption", `expected { fraction, noiseStd? }, got ${JSON.stringify(corruption)}`);
  const { fraction, noiseStd = 3 } = corruption as SinusoidCorruption;
  expectNumber(fraction, "corruption.fraction", 0, 1);
  expectNumber(noiseStd, "corruption.noiseStd", 0);
  return { fraction, noiseStd };
}
