/**
 * A small seeded generator (xoshiro128**, Blackman & Vigna) whose whole state is four 32-bit words,
 * so a checkpoint can store it and a resumed run draws exactly the numbers an uninterrupted one would.
 */
export interface Rng {
  /** Uniform in [0, 1). */
  next(): number;
  /** Uniform in [low, high). */
  uniform(low: number, high: number): number;
  /** Standard normal (Box–Muller). */
  normal(): number;
  /** Integer in [0, n). */
  int(n: number): number;
  /** A new Float32Array of `size` draws from N(0, std²). */
  normalArray(size: number, std?: number): Float32Array;
  /** Fisher–Yates shuffle, in place; returns the array. */
  shuffle<T>(items: T[]): T[];
  /** An independent generator seeded from this one (advances this one). */
  fork(): Rng;
  getState(): RngState;
  setState(state: RngState): void;
}

export type RngState = readonly [number, number, number, number];

export function createRng(seed: number): Rng {
  if (!Number.isFinite(seed)) throw new RangeError(`seed must be a finite number, got ${seed}`);
  return fromState(seedState(seed));
}

/** splitmix32 expands one seed into four well-mixed words (never all zero). */
function seedState(seed: number): [number, number, number, number] {
  let x = Math.trunc(seed) >>> 0;
  const words: number[] = [];
  for (let i = 0; i < 4; i++) {
    x = (x + 0x9e3779b9) >>> 0;
    let z = x;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
    words.push((z ^ (z >>> 16)) >>> 0);
  }
  return words as [number, number, number, number];
}

function fromState(initial: RngState): Rng {
  let [a, b, c, d] = initial;
  const nextUint32 = (): number => {
    const result = Math.imul(rotl(Math.imul(b, 5) >>> 0, 7), 9) >>> 0;
    const t = (b << 9) >>> 0;
    c = (c ^ a) >>> 0;
    d = (d ^ b) >>> 0;
    b = (b ^ c) >>> 0;
    a = (a ^ d) >>> 0;
    c = (c ^ t) >>> 0;
    d = rotl(d, 11);
    return result;
  };
  const rng: Rng = {
    next: () => nextUint32() / 4294967296,
    uniform: (low, high) => low + (high - low) * rng.next(),
    normal: () => {
      const u = 1 - rng.next(); // (0, 1], keeps log finite
      const v = rng.next();
      return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
    },
    int: (n) => Math.floor(rng.next() * n),
    normalArray: (size, std = 1) => {
      const out = new Float32Array(size);
      for (let i = 0; i < size; i++) out[i] = rng.normal() * std;
      return out;
    },
    shuffle: (items) => {
      for (let i = items.length - 1; i > 0; i--) {
        const j = rng.int(i + 1);
        [items[i], items[j]] = [items[j]!, items[i]!];
      }
      return items;
    },
    fork: () => fromState(seedState(nextUint32() ^ Math.imul(nextUint32(), 0x9e3779b1))),
    getState: () => [a, b, c, d],
    setState: (state) => {
      if (state.length !== 4 || state.some((w) => !Number.isInteger(w) || w < 0 || w > 0xffffffff)) {
        throw new RangeError("rng state must be four unsigned 32-bit integers");
      }
      [a, b, c, d] = state;
    },
  };
  return rng;
}

function rotl(x: number, k: number): number {
  return ((x << k) | (x >>> (32 - k))) >>> 0;
}
