// The addon's max-pool routing (maxPoolRoute: route and its adjoint, gather) against a plain
// JavaScript reference written here from the definition, and ConcordMaxPoolRoute/Gather on the wasm
// backend: the native path (counted) gives the wasm-only path's values bit for bit, without leaks.
import * as tf from "@tensorflow/tfjs-core";
import { nativeKernels, setNativeKernels } from "@concord/backend";
import { createRng } from "@concord/core";
import { beforeAll, describe, expect, it } from "vitest";
import { nativeCalls } from "../test/counting-kernels.js";
import { loadNativeKernels } from "./index.js";

const native = loadNativeKernels();

interface Pool {
  n: number;
  height: number;
  width: number;
  c: number;
  oh: number;
  ow: number;
  kh: number;
  kw: number;
  top: number;
  left: number;
}

/** Per window and channel, the flat index in x of its first strict maximum (−1: all padding). */
function firstMaxima(x: Float32Array, p: Pool): Int32Array {
  const positions = new Int32Array(p.n * p.oh * p.ow * p.c).fill(-1);
  for (let b = 0; b < p.n; b++)
    for (let i = 0; i < p.oh; i++)
      for (let j = 0; j < p.ow; j++)
        for (let ch = 0; ch < p.c; ch++) {
          const window = ((b * p.oh + i) * p.ow + j) * p.c + ch;
          for (let u = 0; u < p.kh; u++)
            for (let v = 0; v < p.kw; v++) {
              const y = i * p.kh - p.top + u;
              const z = j * p.kw - p.left + v;
              if (y < 0 || y >= p.height || z < 0 || z >= p.width) continue;
              const index = ((b * p.height + y) * p.width + z) * p.c + ch;
              if (positions[window]! < 0 || x[index]! > x[positions[window]!]!) positions[window] = index;
            }
        }
  return positions;
}

/** Runs the addon on a fresh heap (operands at odd offsets, outputs prefilled with NaN). */
function run(p: Pool, gather: boolean, seed: number) {
  const rng = createRng(seed);
  const inputSize = p.n * p.height * p.width * p.c;
  const pooledSize = p.n * p.oh * p.ow * p.c;
  const upstreamSize = gather ? inputSize : pooledSize;
  const outSize = gather ? pooledSize : inputSize;
  const [xAt, upstreamAt, outAt] = [3, 3 + inputSize + 5, 3 + inputSize + 5 + upstreamSize + 7];
  const buffer = new ArrayBuffer((outAt + outSize + 4) * 4);
  const f32 = new Float32Array(buffer);
  // Halves make ties common; one NaN never becomes a maximum unless it comes first.
  f32.set(
    rng.normalArray(inputSize, 1).map((v) => Math.round(v * 2) / 2),
    xAt,
  );
  f32[xAt + Math.floor(inputSize / 2)] = Number.NaN;
  f32.set(rng.normalArray(upstreamSize, 1), upstreamAt);
  f32.fill(Number.NaN, outAt, outAt + outSize);
  native.maxPoolRoute(buffer, xAt * 4, upstreamAt * 4, outAt * 4, p.n, p.height, p.width, p.c, p.oh, p.ow, p.kh, p.kw, p.top, p.left, gather ? 1 : 0);
  const x = f32.subarray(xAt, xAt + inputSize);
  const upstream = f32.subarray(upstreamAt, upstreamAt + upstreamSize);
  const positions = firstMaxima(x, p);
  const expected = new Float32Array(outSize);
  positions.forEach((position, window) => {
    if (gather) expected[window] = position < 0 ? 0 : upstream[position]!;
    else if (position >= 0) expected[position]! += upstream[window]!;
  });
  return { actual: f32.slice(outAt, outAt + outSize), expected };
}

describe("native maxPoolRoute", () => {
  const pools: [string, Pool][] = [
    ["the conv net's first pool, 5×28×28×64 → 14×14", { n: 5, height: 28, width: 28, c: 64, oh: 14, ow: 14, kh: 2, kw: 2, top: 0, left: 0 }],
    ["an odd size (the last row and column are in no window)", { n: 2, height: 7, width: 7, c: 3, oh: 3, ow: 3, kh: 2, kw: 2, top: 0, left: 0 }],
    ["'same' padding", { n: 1, height: 5, width: 3, c: 2, oh: 3, ow: 2, kh: 2, kw: 2, top: 0, left: 0 }],
    ["3×2 windows with windows entirely in the padding", { n: 2, height: 4, width: 5, c: 5, oh: 4, ow: 5, kh: 3, kw: 2, top: 3, left: 2 }],
    ["13 channels: eight-lane vectors and a scalar tail", { n: 2, height: 6, width: 6, c: 13, oh: 3, ow: 3, kh: 2, kw: 2, top: 0, left: 0 }],
  ];
  for (const [title, pool] of pools) {
    for (const gather of [false, true]) {
      it(`${gather ? "gather" : "route"}, ${title}: matches the definition`, () => {
        const { actual, expected } = run(pool, gather, pool.height * 7 + pool.c);
        expect(Array.from(actual)).toEqual(Array.from(expected));
      });
    }
  }

  for (const [title, pool] of pools.filter(([, p]) => p.top === 0 && p.left === 0)) {
    it(`pool (mode 2), ${title}: each window's maximum, true; false once x holds a NaN or −0`, () => {
      const inputSize = pool.n * pool.height * pool.width * pool.c;
      const pooledSize = pool.n * pool.oh * pool.ow * pool.c;
      const buffer = new ArrayBuffer((inputSize + pooledSize + 8) * 4);
      const f32 = new Float32Array(buffer);
      const x = f32.subarray(3, 3 + inputSize);
      x.set(
        createRng(pool.c)
          .normalArray(inputSize, 1)
          .map((v) => Math.round(v * 2) / 2 + 0),
      ); // ties, +0 but no −0
      const outAt = 3 + inputSize + 2;
      f32.fill(Number.NaN, outAt, outAt + pooledSize);
      const geometry = [pool.n, pool.height, pool.width, pool.c, pool.oh, pool.ow, pool.kh, pool.kw, 0, 0] as const;
      expect(native.maxPoolRoute(buffer, 12, 12, outAt * 4, ...geometry, 2)).toBe(true);
      const expected = Float32Array.from(firstMaxima(x, pool), (position) => x[position]!);
      const actual = f32.slice(outAt, outAt + pooledSize);
      expect(Buffer.from(actual.buffer).equals(Buffer.from(expected.buffer))).toBe(true);
      for (const unusual of [Number.NaN, -0]) {
        const kept = x[0]!;
        x[0] = unusual; // in the first window whatever the size
        expect(native.maxPoolRoute(buffer, 12, 12, outAt * 4, ...geometry, 2)).toBe(false);
        x[0] = kept;
      }
    });
  }

  it("refuses operands outside the buffer and unknown modes", () => {
    const buffer = new ArrayBuffer(64);
    expect(() => native.maxPoolRoute(buffer, 0, 0, 0, 1, 4, 4, 4, 2, 2, 2, 2, 0, 0, 0)).toThrow(/outside the buffer/);
    expect(() => native.maxPoolRoute(new ArrayBuffer(4096), 0, 0, 0, 1, 4, 4, 4, 2, 2, 2, 2, 0, 0, 3)).toThrow(/mode/);
  });
});

describe("MaxPool on the native path", () => {
  beforeAll(async () => {
    expect(await tf.setBackend("wasm")).toBe(true);
    await tf.ready();
  });

  /** Values with many ties, +0, ±∞ and subnormals; `negativeZeros` adds −0s (where XNNPACK's tap order decides the sign of a zero). */
  function awkward(size: number, seed: number, negativeZeros: boolean): Float32Array {
    const values = Float32Array.from(
      createRng(seed)
        .normalArray(size, 1)
        .map((v) => Math.round(v * 2) / 2 + 0),
    );
    const special = [0, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, -1e-42, 1e-42, negativeZeros ? -0 : 0];
    for (let i = 0; i < size; i += 3) values[i] = special[(i / 3) % special.length]!;
    return values;
  }

  for (const shape of [
    [5, 28, 28, 64],
    [5, 7, 7, 64],
    [2, 6, 6, 13],
    [1, 4, 4, 1],
  ]) {
    it(`x [${shape}], 2×2 stride 2: tfjs-wasm's (XNNPACK's) bits, through the addon; with a NaN or −0s, XNNPACK's result`, () => {
      const values = awkward(tf.util.sizeFromShape(shape), shape[3]!, false);
      const pool = (input: Float32Array) =>
        tf.tidy(() => tf.maxPool(tf.tensor4d(input, shape as [number, number, number, number]), 2, 2, "valid").dataSync() as Float32Array);
      const bytes = (v: Float32Array) => Buffer.from(v.buffer, v.byteOffset, v.byteLength);
      const installed = nativeKernels();
      const before = tf.memory().numTensors;
      const calls = nativeCalls.maxPoolRoute;
      const nativeResult = pool(values);
      expect(nativeCalls.maxPoolRoute).toBe(calls + 1);
      const withNaN = Float32Array.from(values);
      withNaN[0] = Number.NaN; // XNNPACK gives −∞ for a NaN first in its window
      withNaN[withNaN.length - 1] = Number.NaN;
      const nativeWithNaN = pool(withNaN);
      const withNegativeZeros = awkward(values.length, shape[3]!, true);
      const nativeWithNegativeZeros = pool(withNegativeZeros);
      expect(nativeCalls.maxPoolRoute).toBe(calls + 3);
      setNativeKernels(undefined);
      try {
        expect(bytes(nativeResult).equals(bytes(pool(values)))).toBe(true);
        expect(bytes(nativeWithNaN).equals(bytes(pool(withNaN)))).toBe(true);
        expect(bytes(nativeWithNegativeZeros).equals(bytes(pool(withNegativeZeros)))).toBe(true);
      } finally {
        setNativeKernels(installed);
      }
      expect(tf.memory().numTensors).toBe(before);
    });
  }

  it("leaves padded and overlapping pools, and providers without maxPoolForward, to tfjs-wasm", () => {
    const calls = nativeCalls.maxPoolRoute;
    const installed = nativeKernels()!;
    tf.tidy(() => {
      const x = tf.ones([1, 5, 5, 2]) as tf.Tensor4D;
      tf.maxPool(x, 2, 2, "same").dataSync();
      tf.maxPool(x, 3, 1, "valid").dataSync();
      setNativeKernels({ ...installed, maxPoolForward: false });
      try {
        expect(Array.from(tf.maxPool(x, 2, 2, "valid").dataSync())).toEqual(new Array(8).fill(1));
      } finally {
        setNativeKernels(installed);
      }
    });
    expect(nativeCalls.maxPoolRoute).toBe(calls);
  });
});

describe("ConcordMaxPoolRoute / Gather on the native path", () => {
  beforeAll(async () => {
    expect(await tf.setBackend("wasm")).toBe(true);
    await tf.ready();
  });

  it("gives the wasm-only path's values bit for bit, through the addon, without leaks", () => {
    const rng = createRng(12);
    const shape = [3, 9, 8, 16];
    const attrs = { filterSize: 2, strides: 2, pad: "valid" };
    const values = Float32Array.from(rng.normalArray(3 * 9 * 8 * 16, 1).map((v) => Math.round(v * 2) / 2));
    const pooledShape = [3, 4, 4, 16];
    const dy = Float32Array.from(rng.normalArray(3 * 4 * 4 * 16, 1));
    const g = Float32Array.from(rng.normalArray(values.length, 1));
    const compute = () =>
      tf.tidy(() => {
        const x = tf.tensor(values, shape);
        const route = tf.engine().runKernel("ConcordMaxPoolRoute", { x, dy: tf.tensor(dy, pooledShape) }, attrs) as tf.Tensor;
        const gathered = tf.engine().runKernel("ConcordMaxPoolGather", { x, g: tf.tensor(g, shape) }, attrs) as tf.Tensor;
        return [Array.from(route.dataSync()), Array.from(gathered.dataSync())];
      });
    const installed = nativeKernels();
    expect(installed?.maxPoolRoute).toBeDefined();
    const before = tf.memory().numTensors;
    const calls = nativeCalls.maxPoolRoute;
    const nativeResult = compute();
    expect(nativeCalls.maxPoolRoute).toBe(calls + 2);
    setNativeKernels(undefined);
    try {
      expect(nativeResult).toEqual(compute());
    } finally {
      setNativeKernels(installed);
    }
    expect(tf.memory().numTensors).toBe(before);
  });
});
