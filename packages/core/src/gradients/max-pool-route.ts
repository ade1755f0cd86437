// Max-pool gradient as two fused kernels (cpu and wasm), each the other's gradient, so that the
// gradient stays differentiable at every order:
//   route(x, dy)  → dx:  each window's dy goes to the first maximum of its window in x, zeros elsewhere;
//   gather(x, g)  → dy-shaped: each window takes g at the first maximum of its window in x.
// Both are linear in their second input and piecewise constant in x (zero gradient), and gather is
// route's adjoint. Pools whose strides equal their filter size (non-overlapping windows), as before.
// Replaces an arg-max/one-hot/transpose composition of about ten kernels per pool (performance).
import * as tf from "@tensorflow/tfjs-core";
import type { GradConfig, KernelFunc, NamedAttrMap, TensorInfo } from "@tensorflow/tfjs-core";
import { saved, single } from "./util.js";

const ROUTE = "ConcordMaxPoolRoute";
const GATHER = "ConcordMaxPoolGather";

type Pad = "same" | "valid" | number | tf.backend_util.ExplicitPadding;
type Shape4 = [number, number, number, number];

/** dx of y = maxPool(x) for upstream dy (see the file comment). `attrs` are MaxPool's. */
export function maxPoolRoute(x: tf.Tensor, dy: tf.Tensor, attrs: NamedAttrMap): tf.Tensor {
  return tf.engine().runKernel(ROUTE, { x, dy }, poolAttrs(attrs)) as tf.Tensor;
}

/** The adjoint of maxPoolRoute: g (x-shaped) read at each window's maximum, dy-shaped. */
export function maxPoolGather(x: tf.Tensor, g: tf.Tensor, attrs: NamedAttrMap): tf.Tensor {
  return tf.engine().runKernel(GATHER, { x, g }, poolAttrs(attrs)) as tf.Tensor;
}

function poolAttrs(attrs: NamedAttrMap): NamedAttrMap {
  const out: NamedAttrMap = { filterSize: attrs["filterSize"]!, strides: attrs["strides"]!, pad: attrs["pad"]! };
  if (attrs["dimRoundingMode"] != null) out["dimRoundingMode"] = attrs["dimRoundingMode"];
  return out;
}

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

/** Calls visit(window, position) with each window's flat dy index and its first maximum's flat x index. */
function forEachWindowMaximum(values: ArrayLike<number>, { info }: Plan, visit: (window: number, position: number) => void): void {
  const { batchSize, inHeight, inWidth, inChannels: channels, outHeight, outWidth, filterHeight: kh, filterWidth: kw } = info;
  const { top, left } = info.padInfo;
  for (let b = 0; b < batchSize; b++) {
    for (let i = 0; i < outHeight; i++) {
      for (let j = 0; j < outWidth; j++) {
        const window = ((b * outHeight + i) * outWidth + j) * channels;
        for (let c = 0; c < channels; c++) {
          let best = Number.NEGATIVE_INFINITY;
          let position = -1;
          for (let u = 0; u < kh; u++) {
            const y = i * kh - top + u;
            if (y < 0 || y >= inHeight) continue;
            for (let v = 0; v < kw; v++) {
              const z = j * kw - left + v;
              if (z < 0 || z >= inWidth) continue;
              const index = ((b * inHeight + y) * inWidth + z) * channels + c;
              const value = values[index]!;
              if (position < 0 || value > best) {
                best = value;
                position = index;
              }
            }
          }
          if (position >= 0) visit(window + c, position);
        }
      }
    }
  }
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
    const view = (t: TensorInfo, length: number) => heap.subarray(wasm.dataIdMap.get(t.dataId).memoryOffset / 4, wasm.dataIdMap.get(t.dataId).memoryOffset / 4 + length);
    const out = view(info, size);
    out.fill(0);
    fill(kind, view(x, tf.util.sizeFromShape(x.shape)), view(upstream, tf.util.sizeFromShape(upstream.shape)), out, p);
    return info;
  };
}

function fill(kind: "route" | "gather", xv: Float32Array, uv: Float32Array, out: Float32Array, p: Plan): void {
  if (kind === "route") {
    forEachWindowMaximum(xv, p, (window, position) => {
      out[position]! += uv[window]!;
    });
  } else {
    forEachWindowMaximum(xv, p, (window, position) => {
      out[window] = uv[position]!;
    });
  }
}

export const maxPoolRouteGradients: GradConfig[] = [
  {
    kernelName: ROUTE,
    inputsToSave: ["x"],
    gradFunc: (ddx, s, attrs) => {
      const x = saved(s, 0);
      return { x: () => tf.zerosLike(x), dy: () => maxPoolGather(x, single(ddx), attrs) };
    },
  },
  {
    kernelName: GATHER,
    inputsToSave: ["x"],
    gradFunc: (dout, s, attrs) => {
      const x = saved(s, 0);
      return { x: () => tf.zerosLike(x), g: () => maxPoolRoute(x, single(dout), attrs) };
    },
  },
];

/** Registers the two kernels on cpu and wasm (once; the wasm ones are used only if that backend loads). */
export function registerMaxPoolRouteKernels(): void {
  for (const backendName of ["cpu", "wasm"] as const) {
    for (const [kernelName, kind] of [[ROUTE, "route"], [GATHER, "gather"]] as const) {
      if (!tf.getKernel(kernelName, backendName)) tf.registerKernel({ kernelName, backendName, kernelFunc: makeKernel(kind, backendName) });
    }
  }
}
