import * as tf from "@tensorflow/tfjs-core";
import "@tensorflow/tfjs-backend-cpu";
import "@tensorflow/tfjs-backend-wasm";
import { COL2IM_3X3_KERNEL, createRng, IM2COL_3X3_KERNEL } from "@concord/core";
import { beforeAll, describe, expect, it } from "vitest";
import { installFastIm2col3x3 } from "./fast.js";
import { kernelOwner } from "../../registry-journal.js";

/** im2col and col2im by definition, in float64 loops (independent of the kernels' own code). */
function reference(x: Float32Array, patches: Float32Array, shape: readonly number[]) {
  const [n, height, width, c] = shape as [number, number, number, number];
  const im2col = new Float64Array(n * height * width * 9 * c);
  const col2im = new Float64Array(n * height * width * c);
  const at = (b: number, y: number, z: number) => ((b * height + y) * width + z) * c;
  for (let b = 0; b < n; b++) {
    for (let i = 0; i < height; i++) {
      for (let j = 0; j < width; j++) {
        for (let h = 0; h < 3; h++) {
          for (let w = 0; w < 3; w++) {
            const [y, z] = [i + h - 1, j + w - 1];
            if (y < 0 || y >= height || z < 0 || z >= width) continue;
            for (let ch = 0; ch < c; ch++) {
              const column = at(b, i, j) * 9 + (h * 3 + w) * c + ch;
              im2col[column] = x[at(b, y, z) + ch]!;
              // col2im is im2col's adjoint: patch entry (b, i, j, tap) is added back at the pixel it read.
              col2im[at(b, y, z) + ch]! += patches[column]!;
            }
          }
        }
      }
    }
  }
  return { im2col, col2im };
}

function run(x: Float32Array, patches: Float32Array, shape: number[]) {
  return tf.tidy(() => {
    const [n, height, width, c] = shape as [number, number, number, number];
    const im2col = tf.engine().runKernel(IM2COL_3X3_KERNEL, { x: tf.tensor(x, shape) }, {}) as tf.Tensor;
    const col2im = tf.engine().runKernel(COL2IM_3X3_KERNEL, { patches: tf.tensor(patches, [n, height, width, 9 * c]) }, {}) as tf.Tensor;
    expect(im2col.shape).toEqual([n, height, width, 9 * c]);
    expect(col2im.shape).toEqual(shape);
    return { im2col: im2col.dataSync(), col2im: col2im.dataSync() };
  });
}

const SHAPES = [
  [2, 5, 6, 3],
  [3, 1, 1, 2], // every tap but the centre outside the image
  [4, 14, 14, 64], // a layer of the Omniglot CNN
  [2, 28, 28, 1],
];

describe("3×3 im2col / col2im kernels equal their definitions (cpu and wasm; wasm im2col by gemm.wat, both by the addon when native)", () => {
  beforeAll(async () => {
    expect(await tf.setBackend("wasm")).toBe(true);
    await tf.ready();
    expect(installFastIm2col3x3()).toBe(true);
    expect(kernelOwner(IM2COL_3X3_KERNEL, "wasm")).toBe("fast:im2col-3x3");
    expect(kernelOwner(COL2IM_3X3_KERNEL, "wasm")).toBe("fast:im2col-3x3");
  });
  const rng = createRng(12);
  for (const shape of SHAPES) {
    it(`x [${shape}]`, async () => {
      const size = shape.reduce((a, b) => a * b, 1);
      const x = Float32Array.from(rng.normalArray(size, 1));
      const patches = Float32Array.from(rng.normalArray(9 * size, 1));
      const expected = reference(x, patches, shape);
      const col2imBits: Record<string, number[]> = {};
      for (const backend of ["cpu", "wasm"] as const) {
        await tf.setBackend(backend);
        const before = tf.memory().numTensors;
        const { im2col, col2im } = run(x, patches, shape);
        expect(tf.memory().numTensors).toBe(before);
        // im2col is a copy: bit for bit. col2im adds up to 9 terms in another order than the reference.
        expect(Array.from(im2col), backend).toEqual(Array.from(Float32Array.from(expected.im2col)));
        let worst = 0;
        col2im.forEach((value, i) => {
          worst = Math.max(worst, Math.abs(value - expected.col2im[i]!) / (1 + Math.abs(expected.col2im[i]!)));
        });
        expect(worst, `${backend} col2im`).toBeLessThan(1e-6);
        col2imBits[backend] = Array.from(col2im);
      }
      // Every col2im (reference loop, the addon's) adds the taps in the same order: the same bits.
      expect(col2imBits["wasm"]).toEqual(col2imBits["cpu"]);
    });
  }

  it("rejects a tensor that is not NHWC float32 (col2im: channels not a multiple of 9), naming the kernel", async () => {
    await tf.setBackend("cpu");
    expect(() => tf.engine().runKernel(IM2COL_3X3_KERNEL, { x: tf.zeros([2, 3, 3]) }, {})).toThrow(
      /ConcordIm2Col3x3: expected a float32 tensor of shape \[N, H, W, C\], got float32 \[2, 3, 3\]/,
    );
    expect(() => tf.engine().runKernel(COL2IM_3X3_KERNEL, { patches: tf.zeros([1, 3, 3, 10]) }, {})).toThrow(/ConcordCol2Im3x3: .*\[N, H, W, 9·C\]/);
  });
});
