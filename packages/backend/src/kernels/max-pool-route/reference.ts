// The reference implementation of ConcordMaxPoolRoute and ConcordMaxPoolGather (contract.ts) on cpu
// and wasm: a JavaScript scan of each window for its first maximum. fast.ts replaces the wasm ones.
import * as tf from "@tensorflow/tfjs-core";
import type { KernelFunc, NamedAttrMap, TensorInfo } from "@tensorflow/tfjs-core";
import { replaceKernel } from "../../registry-journal.js";
import { MAX_POOL_GATHER_KERNEL as GATHER, type Pad, MAX_POOL_ROUTE_KERNEL as ROUTE, type Shape4 } from "./contract.js";

interface Plan {
  readonly info: tf.backend_util.Conv2DInfo;
}

function plan(x: TensorInfo, attrs: NamedAttrMap): Plan {
  const info = tf.backend_util.computePool2DInfo(
    x.shape as Shape4,
    attrs["filterSize"] as number | [number, number],
    attrs["strides"] as number | [number, number],
    1,
    attrs["pad"] as Pad,
    attrs["dimRoundingMode"] as "floor" | "round" | "ceil" | undefined,
  );
  if (info.strideHeight !== info.filterHeight || info.strideWidth !== info.filterWidth) {
    throw new Error(
      `Concord gradient for MaxPool: only pools whose strides equal their filter size are differentiable ` +
        `(got filter ${info.filterHeight}x${info.filterWidth}, strides ${info.strideHeight}x${info.strideWidth})`,
    );
  }
  return { info };
}

/**
 * For every pooling window (dy's layout), the flat index in x of its first maximum (−1 if the window
 * lies entirely in the padding). Scans each window position for all channels at once, so the inner
 * loop runs over contiguous channels.
 */
function windowMaxima(values: Float32Array, { info }: Plan): Int32Array {
  const { batchSize, inHeight, inWidth, inChannels: channels, outHeight, outWidth, filterHeight: kh, filterWidth: kw } = info;
  const { top, left } = info.padInfo;
  const positions = new Int32Array(batchSize * outHeight * outWidth * channels).fill(-1);
  const best = new Float32Array(channels);
  for (let b = 0; b < batchSize; b++) {
    for (let i = 0; i < outHeight; i++) {
      for (let j = 0; j < outWidth; j++) {
        const window = ((b * outHeight + i) * outWidth + j) * channels;
        let first = true;
        for (let u = 0; u < kh; u++) {
          const y = i * kh - top + u;
          if (y < 0 || y >= inHeight) continue;
          for (let v = 0; v < kw; v++) {
            const z = j * kw - left + v;
            if (z < 0 || z >= inWidth) continue;
            const base = ((b * inHeight + y) * inWidth + z) * channels;
            if (first) {
              for (let c = 0; c < channels; c++) {
                best[c] = values[base + c]!;
                positions[window + c] = base + c;
              }
              first = false;
            } else {
              for (let c = 0; c < channels; c++) {
                const value = values[base + c]!;
                if (value > best[c]!) {
                  best[c] = value;
                  positions[window + c] = base + c;
                }
              }
            }
          }
        }
      }
    }
  }
  return positions;
}

function makeKernel(kind: "route" | "gather", backendName: "cpu" | "wasm"): KernelFunc {
  return ({ inputs, backend, attrs }) => {
    const x = inputs["x"] as TensorInfo;
    const upstream = (kind === "route" ? inputs["dy"] : inputs["g"]) as TensorInfo;
    const p = plan(x, attrs ?? {});
    const outShape = kind === "route" ? [...x.shape] : [...p.info.outShape];
    const size = outShape.reduce((a, b) => a * b, 1);
    if (backendName === "cpu") {
      const cpu = backend as unknown as {
        data: { get(dataId: object): { values: Float32Array } };
        makeTensorInfo(shape: number[], dtype: "float32", values: Float32Array): TensorInfo;
      };
      const xv = cpu.data.get(x.dataId).values;
      const uv = cpu.data.get(upstream.dataId).values;
      const out = new Float32Array(size);
      fill(kind, xv, uv, out, p);
      return cpu.makeTensorInfo(outShape, "float32", out);
    }
    const wasm = backend as unknown as {
      wasm: { HEAP32: Int32Array };
      dataIdMap: { get(dataId: object): { memoryOffset: number } };
      makeOutput(shape: number[], dtype: "float32"): TensorInfo;
    };
    const info = wasm.makeOutput(outShape, "float32");
    const heap = new Float32Array(wasm.wasm.HEAP32.buffer);
    const view = (t: TensorInfo, length: number) =>
      heap.subarray(wasm.dataIdMap.get(t.dataId).memoryOffset / 4, wasm.dataIdMap.get(t.dataId).memoryOffset / 4 + length);
    const out = view(info, size);
    out.fill(0);
    fill(kind, view(x, tf.util.sizeFromShape(x.shape)), view(upstream, tf.util.sizeFromShape(upstream.shape)), out, p);
    return info;
  };
}

function fill(kind: "route" | "gather", xv: Float32Array, uv: Float32Array, out: Float32Array, p: Plan): void {
  const positions = windowMaxima(xv, p);
  if (kind === "route") {
    for (let w = 0; w < positions.length; w++) {
      const position = positions[w]!;
      if (position >= 0) out[position]! += uv[w]!;
    }
  } else {
    for (let w = 0; w < positions.length; w++) {
      const position = positions[w]!;
      out[w] = position >= 0 ? uv[position]! : 0;
    }
  }
}

/** Registers the two kernels on cpu and wasm (once; the wasm ones are used only if that backend loads). */
export function registerMaxPoolRouteKernels(): void {
  for (const backendName of ["cpu", "wasm"] as const) {
    for (const [kernelName, kind] of [
      [ROUTE, "route"],
      [GATHER, "gather"],
    ] as const) {
      if (!tf.getKernel(kernelName, backendName)) replaceKernel({ kernelName, backendName, kernelFunc: makeKernel(kind, backendName) }, "gradients");
    }
  }
}
