// The native-kernel hook without the addon: a float64 JavaScript provider stands in for it, so this
// package's tests check the wiring (what reaches the provider, with which offsets and layouts) on
// any machine. @concord/backend-native's tests run the real addon through the same kernels.
import * as tf from "@tensorflow/tfjs-core";
import "@tensorflow/tfjs-backend-wasm";
import { ConcordError, createRng } from "@concord/core";
import { relativeError } from "@concord/core/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { installConcord, uninstallConcord } from "../install.js";
import { activeBackendChoice } from "../use-backend.js";
import { type NativeKernels, nativeKernels, setNativeKernels } from "./native-kernels.js";

/** The NativeKernels contract in plain JavaScript (float64 sums), counting its calls. */
function javascriptKernels(): NativeKernels & { calls: number } {
  const kernels = {
    description: "JavaScript reference",
    calls: 0,
    sgemm(
      buffer: ArrayBuffer,
      batch: number,
      m: number,
      n: number,
      k: number,
      ta: boolean,
      tb: boolean,
      a: number,
      sa: number,
      b: number,
      sb: number,
      c: number,
      sc: number,
    ) {
      kernels.calls++;
      const f = new Float32Array(buffer);
      for (let i = 0; i < batch; i++) {
        const [pa, pb, pc] = [(a + i * sa) / 4, (b + i * sb) / 4, (c + i * sc) / 4];
        for (let r = 0; r < m; r++)
          for (let col = 0; col < n; col++) {
            let sum = 0;
            for (let p = 0; p < k; p++) sum += f[pa + (ta ? p * m + r : r * k + p)]! * f[pb + (tb ? col * k + p : p * n + col)]!;
            f[pc + r * n + col] = sum;
          }
      }
    },
    im2col(
      buffer: ArrayBuffer,
      x: number,
      out: number,
      n: number,
      height: number,
      width: number,
      c: number,
      oh: number,
      ow: number,
      kh: number,
      kw: number,
      top: number,
      left: number,
    ) {
      kernels.calls++;
      const f = new Float32Array(buffer);
      let index = out / 4;
      for (let b = 0; b < n; b++)
        for (let i = 0; i < oh; i++)
          for (let j = 0; j < ow; j++)
            for (let h = 0; h < kh; h++)
              for (let w = 0; w < kw; w++)
                for (let ch = 0; ch < c; ch++) {
                  const [y, z] = [i + h - top, j + w - left];
                  f[index++] = y >= 0 && y < height && z >= 0 && z < width ? f[x / 4 + ((b * height + y) * width + z) * c + ch]! : 0;
                }
    },
  };
  return kernels;
}

describe("native kernels hook (wasm backend)", () => {
  const rng = createRng(4);
  const values = (size: number) => rng.normalArray(size, 1);
  beforeAll(async () => {
    expect(await tf.setBackend("wasm")).toBe(true);
    await tf.ready();
  });
  afterAll(() => {
    setNativeKernels(undefined);
    installConcord();
  });

  it("routes matMul, conv2d, its input and filter gradients to the provider with the wasm path's values", () => {
    const x = tf.tensor4d(values(2 * 7 * 7 * 3), [2, 7, 7, 3]);
    const w = tf.tensor4d(values(3 * 3 * 3 * 5), [3, 3, 3, 5]);
    const a = tf.tensor3d(values(4 * 6 * 5), [4, 6, 5]);
    const b = tf.tensor2d(values(8 * 5), [8, 5]);
    const compute = () =>
      tf.tidy(() => {
        const [dx, dw] = tf.grads((input: tf.Tensor, filter: tf.Tensor) =>
          tf.sum(tf.square(tf.conv2d(input as tf.Tensor4D, filter as tf.Tensor4D, 1, "same"))),
        )([x, w]);
        return [tf.matMul(a, b, false, true), tf.matMul(b, tf.transpose(b)), dx!, dw!].map((t) => t.dataSync() as Float32Array);
      });
    const before = tf.memory().numTensors;
    const wasm = compute();
    const provider = javascriptKernels();
    installConcord({ native: provider });
    expect(nativeKernels()).toBe(provider);
    const native = compute();
    expect(provider.calls).toBeGreaterThan(5);
    expect(tf.memory().numTensors).toBe(before);
    native.forEach((result, i) => expect(relativeError(result, wasm[i]!)).toBeLessThan(1e-5));
    tf.dispose([x, w, a, b]);
  });

  it("is part of the journal: uninstallConcord() turns it off; installConcord() without `native` keeps it", () => {
    const provider = javascriptKernels();
    installConcord({ native: provider });
    installConcord();
    expect(nativeKernels()).toBe(provider);
    expect(activeBackendChoice()).toBe("native");
    uninstallConcord();
    expect(nativeKernels()).toBeUndefined();
    expect(activeBackendChoice()).toBe("wasm");
    installConcord();
    expect(nativeKernels()).toBeUndefined();
  });

  it("refuses a provider without the kernel functions", () => {
    expect(() => setNativeKernels({ description: "x" } as NativeKernels)).toThrow(ConcordError);
    expect(() => installConcord({ native: { description: "x", sgemm() {} } as unknown as NativeKernels })).toThrow(
      /native: expected an object with im2col\(\)/,
    );
  });
});
