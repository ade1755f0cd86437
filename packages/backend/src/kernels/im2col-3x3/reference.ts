// The reference implementation of ConcordIm2Col3x3 and ConcordCol2Im3x3 (contract.ts) on cpu and
// wasm: JavaScript loops (over the wasm heap on wasm). fast.ts replaces the wasm im2col.
import * as tf from "@tensorflow/tfjs-core";
import type { KernelFunc, TensorInfo } from "@tensorflow/tfjs-core";
import { replaceKernel } from "../../registry-journal.js";
import { COL2IM_3X3_KERNEL, IM2COL_3X3_KERNEL } from "./contract.js";

const TAPS = 9;

/** The four sizes of an NHWC float32 tensor, or an Error naming the kernel. */
export function imageShape(t: TensorInfo, kernel: string, channelsPerTap: boolean): [number, number, number, number] {
  if (t.shape.length !== 4 || t.dtype !== "float32" || (channelsPerTap && t.shape[3]! % TAPS !== 0)) {
    const expected = channelsPerTap ? "[N, H, W, 9·C]" : "[N, H, W, C]";
    throw new Error(`${kernel}: expected a float32 tensor of shape ${expected}, got ${t.dtype} [${t.shape.join(", ")}]`);
  }
  const [n, height, width, c] = t.shape as [number, number, number, number];
  return [n, height, width, channelsPerTap ? c / TAPS : c];
}

/** out ([n·h·w, 9·c]) ← the patches of x ([n, h, w, c]). Every entry of out is written. */
export function im2colValues(x: Float32Array, out: Float32Array, n: number, height: number, width: number, c: number): void {
  let o = 0;
  for (let b = 0; b < n; b++) {
    for (let i = 0; i < height; i++) {
      for (let j = 0; j < width; j++) {
        for (let h = 0; h < 3; h++) {
          const y = i + h - 1;
          for (let w = 0; w < 3; w++) {
            const z = j + w - 1;
            if (y < 0 || y >= height || z < 0 || z >= width) {
              out.fill(0, o, o + c);
            } else {
              const source = ((b * height + y) * width + z) * c;
              for (let ch = 0; ch < c; ch++) out[o + ch] = x[source + ch]!;
            }
            o += c;
          }
        }
      }
    }
  }
}

/**
 * out ([n, h, w, c]) ← col2im of patches ([n, h, w, 9·c]): each pixel gathers its (up to) nine
 * taps in (h, w) order, so the sums are deterministic and no entry is written twice.
 */
export function col2imValues(patches: Float32Array, out: Float32Array, n: number, height: number, width: number, c: number): void {
  const depth = TAPS * c;
  out.fill(0);
  for (let b = 0; b < n; b++) {
    for (let y = 0; y < height; y++) {
      for (let z = 0; z < width; z++) {
        const target = ((b * height + y) * width + z) * c;
        for (let h = 0; h < 3; h++) {
          const i = y - h + 1;
          if (i < 0 || i >= height) continue;
          for (let w = 0; w < 3; w++) {
            const j = z - w + 1;
            if (j < 0 || j >= width) continue;
            const source = ((b * height + i) * width + j) * depth + (h * 3 + w) * c;
            for (let ch = 0; ch < c; ch++) out[target + ch]! += patches[source + ch]!;
          }
        }
      }
    }
  }
}

interface CpuBackend {
  data: { get(dataId: object): { values: Float32Array } };
  makeTensorInfo(shape: number[], dtype: "float32", values: Float32Array): TensorInfo;
}

interface HeapBackend {
  wasm: { HEAP32: Int32Array };
  dataIdMap: { get(dataId: object): { memoryOffset: number } };
  makeOutput(shape: number[], dtype: "float32"): TensorInfo;
}

function makeKernel(kind: "im2col" | "col2im", backendName: "cpu" | "wasm"): KernelFunc {
  const kernel = kind === "im2col" ? IM2COL_3X3_KERNEL : COL2IM_3X3_KERNEL;
  return ({ inputs, backend }) => {
    const input = (kind === "im2col" ? inputs["x"] : inputs["patches"]) as TensorInfo;
    const [n, height, width, c] = imageShape(input, kernel, kind === "col2im");
    const outShape = [n, height, width, kind === "im2col" ? TAPS * c : c];
    const size = outShape.reduce((a, b) => a * b, 1);
    const run = (values: Float32Array, out: Float32Array) =>
      kind === "im2col" ? im2colValues(values, out, n, height, width, c) : col2imValues(values, out, n, height, width, c);
    if (backendName === "cpu") {
      const cpu = backend as unknown as CpuBackend;
      const out = new Float32Array(size);
      run(cpu.data.get(input.dataId).values, out);
      return cpu.makeTensorInfo(outShape, "float32", out);
    }
    const wasm = backend as unknown as HeapBackend;
    const info = wasm.makeOutput(outShape, "float32");
    // Views after makeOutput: allocating may grow (and so replace) the heap's buffer.
    const heap = new Float32Array(wasm.wasm.HEAP32.buffer);
    const view = (t: TensorInfo, length: number) => {
      const start = wasm.dataIdMap.get(t.dataId).memoryOffset / 4;
      return heap.subarray(start, start + length);
    };
    run(view(input, tf.util.sizeFromShape(input.shape)), view(info, size));
    return info;
  };
}

/** Registers the two kernels on cpu and wasm (once; the wasm ones are used only if that backend loads). */
export function registerIm2col3x3Kernels(): void {
  for (const backendName of ["cpu", "wasm"] as const) {
    for (const [kernelName, kind] of [
      [IM2COL_3X3_KERNEL, "im2col"],
      [COL2IM_3X3_KERNEL, "col2im"],
    ] as const) {
      if (!tf.getKernel(kernelName, backendName)) replaceKernel({ kernelName, backendName, kernelFunc: makeKernel(kind, backendName) }, "gradients");
    }
  }
}
