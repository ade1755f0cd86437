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
  ];
  for (const [title, pool] of pools) {
    for (const gather of [false, true]) {
      it(`${gather ? "gather" : "route"}, ${title}: matches the definition`, () => {
        const { actual, expected } = run(pool, gather, pool.height * 7 + pool.c);
        expect(Array.from(actual)).toEqual(Array.from(expected));
      });
    }
  }

  it("refuses operands outside the buffer", () => {
    const buffer = new ArrayBuffer(64);
    expect(() => native.maxPoolRoute(buffer, 0, 0, 0, 1, 4, 4, 4, 2, 2, 2, 2, 0, 0, 0)).toThrow(/outside the buffer/);
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
