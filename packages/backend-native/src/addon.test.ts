import { Worker } from "node:worker_threads";
import { ConcordError, createRng } from "@concord/core";
import { describe, expect, it } from "vitest";
import { loadNativeKernels } from "./index.js";

const native = loadNativeKernels();

/** A wasm-sized heap (the addon reads any ArrayBuffer; the wasm backend passes its memory's). */
function heap(floats: number): { buffer: ArrayBuffer; f32: Float32Array } {
  const buffer = new ArrayBuffer(floats * 4);
  return { buffer, f32: new Float32Array(buffer) };
}

/** C_i = op(A_i)·op(B_i) in float64 from float32 operands (same layouts as the addon). */
function reference(
  a: Float32Array,
  b: Float32Array,
  batch: number,
  m: number,
  n: number,
  k: number,
  ta: boolean,
  tb: boolean,
  broadcastA: boolean,
  broadcastB: boolean,
) {
  const c = new Float64Array(batch * m * n);
  for (let i = 0; i < batch; i++) {
    const oa = broadcastA ? 0 : i * m * k;
    const ob = broadcastB ? 0 : i * k * n;
    for (let r = 0; r < m; r++)
      for (let col = 0; col < n; col++) {
        let sum = 0;
        for (let p = 0; p < k; p++) sum += a[oa + (ta ? p * m + r : r * k + p)]! * b[ob + (tb ? col * k + p : p * n + col)]!;
        c[i * m * n + r * n + col] = sum;
      }
  }
  return c;
}

function maxRelativeError(actual: Float32Array, expected: Float64Array): number {
  const scale = Math.max(1e-6, ...Array.from(expected, Math.abs));
  let worst = 0;
  for (let i = 0; i < expected.length; i++) worst = Math.max(worst, Math.abs(actual[i]! - expected[i]!) / scale);
  return worst;
}

/** Runs one sgemm on a fresh heap with operands at unaligned-to-64 offsets; returns C and the reference. */
function product(batch: number, m: number, n: number, k: number, ta: boolean, tb: boolean, broadcastA = false, broadcastB = false) {
  const rng = createRng(m * 131 + n * 17 + k);
  const sizeA = (broadcastA ? 1 : batch) * m * k;
  const sizeB = (broadcastB ? 1 : batch) * k * n;
  const offsetA = 3;
  const offsetB = offsetA + sizeA + 5;
  const offsetC = offsetB + sizeB + 7;
  const { buffer, f32 } = heap(offsetC + batch * m * n + 16);
  f32.set(rng.normalArray(sizeA, 1), offsetA);
  f32.set(rng.normalArray(sizeB, 1), offsetB);
  f32.fill(Number.NaN, offsetC, offsetC + batch * m * n); // every output element must be written
  native.sgemm(buffer, batch, m, n, k, ta, tb, offsetA * 4, broadcastA ? 0 : m * k * 4, offsetB * 4, broadcastB ? 0 : k * n * 4, offsetC * 4, m * n * 4);
  const a = f32.subarray(offsetA, offsetA + sizeA);
  const b = f32.subarray(offsetB, offsetB + sizeB);
  return { c: f32.slice(offsetC, offsetC + batch * m * n), expected: reference(a, b, batch, m, n, k, ta, tb, broadcastA, broadcastB) };
}

describe("native sgemm", () => {
  const shapes: [number, number, number, number][] = [
    [1, 1, 1, 1],
    [1, 7, 5, 3],
    [3, 10, 40, 40],
    [25, 10, 1, 40],
    [1, 245, 64, 576],
    [1, 576, 64, 245],
    [2, 300, 33, 129],
  ];
  for (const [batch, m, n, k] of shapes) {
    for (const ta of [false, true]) {
      for (const tb of [false, true]) {
        it(`batch ${batch}, [${m}×${k}]·[${k}×${n}], transposeA ${ta}, transposeB ${tb}: matches float64`, () => {
          const { c, expected } = product(batch, m, n, k, ta, tb);
          expect(c.some(Number.isNaN)).toBe(false);
          expect(maxRelativeError(c, expected)).toBeLessThan(1e-5);
        });
      }
    }
  }

  it("broadcasts a matrix with stride 0 (either side)", () => {
    for (const [ba, bb] of [
      [true, false],
      [false, true],
    ] as const) {
      const { c, expected } = product(4, 9, 11, 13, false, true, ba, bb);
      expect(maxRelativeError(c, expected)).toBeLessThan(1e-5);
    }
  });

  it("k = 0 writes zeros", () => {
    const { buffer, f32 } = heap(64);
    f32.fill(Number.NaN);
    native.sgemm(buffer, 2, 3, 4, 0, false, false, 0, 0, 0, 0, 64, 48);
    expect(Array.from(f32.subarray(16, 40))).toEqual(new Array(24).fill(0));
  });

  it("gives bit-identical results with 1 and 2 threads (chunks depend on the shape only)", () => {
    const results = [1, 2].map((threads) => {
      native.setThreads(threads);
      return [
        product(1, 980, 64, 576, false, false).c,
        product(1, 576, 64, 980, true, false).c,
        product(8, 200, 64, 300, false, true).c,
        product(1, 3920, 64, 9, false, false).c,
      ];
    });
    native.setThreads(2);
    for (let i = 0; i < results[0]!.length; i++) expect(Buffer.from(results[1]![i]!.buffer).equals(Buffer.from(results[0]![i]!.buffer))).toBe(true);
  });

  it("counts the JavaScript threads that loaded it (calls are not shared while a worker has it loaded)", async () => {
    expect(native.loadedThreads()).toBe(1);
    const addonPath = new URL("../build/concord_native.node", import.meta.url).pathname;
    const worker = new Worker(
      `const { parentPort, workerData } = require("node:worker_threads");
       const addon = require(workerData);
       parentPort.postMessage(addon.loadedThreads());
       parentPort.once("message", () => process.exit(0));`,
      { eval: true, workerData: addonPath },
    );
    const seenByWorker = await new Promise<number>((resolve, reject) => {
      worker.once("message", resolve);
      worker.once("error", reject);
    });
    expect(seenByWorker).toBe(2);
    expect(native.loadedThreads()).toBe(2);
    // Sharing is off now, and results stay the same bits (chunks depend on the shape only).
    const shared = product(1, 980, 64, 576, false, false).c;
    const exited = new Promise((resolve) => worker.once("exit", resolve));
    worker.postMessage("exit");
    await exited;
    expect(native.loadedThreads()).toBe(1);
    expect(Buffer.from(product(1, 980, 64, 576, false, false).c.buffer).equals(Buffer.from(shared.buffer))).toBe(true);
  });

  it("refuses operands outside the buffer, misaligned offsets and wrong argument types", () => {
    const { buffer } = heap(16);
    expect(() => native.sgemm(buffer, 1, 4, 4, 4, false, false, 0, 0, 0, 0, 16, 0)).toThrow(/outside the buffer/);
    expect(() => native.sgemm(buffer, 1, 1, 1, 1, false, false, 2, 0, 0, 0, 8, 0)).toThrow(/aligned/);
    expect(() => native.sgemm(buffer, 1, 1, 1, 1, 0 as unknown as boolean, false, 0, 0, 0, 0, 8, 0)).toThrow(/booleans/);
    expect(() => native.sgemm(new Float32Array(4) as unknown as ArrayBuffer, 1, 1, 1, 1, false, false, 0, 0, 0, 0, 8, 0)).toThrow(/ArrayBuffer/);
  });
});

describe("native im2col", () => {
  // [n, height, width, c, kh, kw, top, left, oh, ow]: one channel (copied element by element), padding
  // wider than the filter (rows of taps entirely outside), and a tall filter on a narrow image.
  const configurations: number[][] = [
    [2, 5, 6, 3, 3, 2, 1, 0, 5, 5],
    [2, 6, 5, 1, 3, 3, 1, 1, 6, 5],
    [1, 4, 4, 1, 3, 3, 4, 5, 9, 10],
    [1, 3, 2, 5, 3, 3, 4, 4, 7, 8],
    [2, 3, 3, 64, 3, 3, 1, 1, 3, 3],
  ];
  it.each(configurations)(
    "matches the definition, padding included: n %i, %i×%i×%i, filter %i×%i, top %i, left %i, out %i×%i",
    (n, height, width, c, kh, kw, top, left, oh, ow) => {
      const rng = createRng(3);
      const { buffer, f32 } = heap(n * height * width * c + n * oh * ow * kh * kw * c);
      f32.set(rng.normalArray(n * height * width * c, 1));
      const out = n * height * width * c;
      f32.fill(Number.NaN, out);
      native.im2col(buffer, 0, out * 4, n, height, width, c, oh, ow, kh, kw, top, left);
      let index = out;
      for (let b = 0; b < n; b++)
        for (let i = 0; i < oh; i++)
          for (let j = 0; j < ow; j++)
            for (let h = 0; h < kh; h++)
              for (let w = 0; w < kw; w++)
                for (let ch = 0; ch < c; ch++) {
                  const y = i + h - top;
                  const x = j + w - left;
                  const inside = y >= 0 && y < height && x >= 0 && x < width;
                  expect(f32[index++]).toBe(inside ? f32[((b * height + y) * width + x) * c + ch] : 0);
                }
    },
  );
});

describe("loadNativeKernels", () => {
  it("describes OpenBLAS and refuses a bad thread count", () => {
    expect(native.description).toMatch(/OpenBLAS/);
    expect(() => loadNativeKernels({ threads: 0 })).toThrow(ConcordError);
    expect(() => loadNativeKernels({ threads: 0 })).toThrow(/threads/);
  });
});
