// Transductive batch norm (+ ReLU) and its gradient as two kernels (BATCH_NORM_KERNEL,
// BATCH_NORM_GRAD_KERNEL from @concord/core) on cpu and wasm, the wasm ones through the native
// addon when it provides them, else gemm.wat's SIMD passes (JavaScript where wasm SIMD is missing,
// and on cpu). Performance: written op by op (tf.moments + sub/div/mul/add + relu)
// one conv-net block runs about 12 kernels forward and 30 backward over [K, 28, 28, 64] tensors, each
// a full pass over memory plus ~14 µs of tfjs bookkeeping; these are one kernel each way and 2–4 passes.
// Gradients: gradients/batch-norm.ts.
import * as tf from "@tensorflow/tfjs-core";
import type { KernelFunc, TensorInfo } from "@tensorflow/tfjs-core";
import { BATCH_NORM_GRAD_KERNEL, BATCH_NORM_KERNEL, type BatchNormAttrs } from "@concord/core";
import { replaceKernel } from "../registry-journal.js";
import { heapBuffer, nativeKernels } from "./native-kernels.js";
import { type SimdKernels, simdKernels, type WasmHeapBackend } from "./simd-module.js";

// Arithmetic (shared, operation for operation, by gemm.wat's bn_* functions and the native addon's
// C++, so all three give the same bits): float64 throughout, per channel c over M rows. Moments in
// one pass of sums shifted by the first row (d = x − x₀: Σd, Σd² in float64 lose nothing that
// float32 outputs could show), then the normalisation folded into one multiply-add per element,
// y = x·a + b with a = γs, b = β − aμ; the backward pass sums g and g·x and writes
// dx = g·k₁ + x·k₂ + k₃ (the same formula regrouped, see batchNormBackward). The ReLU is the select
// z > 0 ? z : +0 (SIMD: an AND with the comparison).

/** Per-channel float64 state of one call; `sum`, `squares`, `sumG`, `sumGX` start at zero. */
interface ChannelArrays {
  readonly sum: Float64Array;
  readonly squares: Float64Array;
  readonly a: Float64Array;
  readonly b: Float64Array;
  readonly sumG: Float64Array;
  readonly sumGX: Float64Array;
  readonly k1: Float64Array;
  readonly k2: Float64Array;
  readonly k3: Float64Array;
}
const CHANNEL_ARRAYS = 9;

function channelArrays(buffer: ArrayBufferLike, byteOffset: number, channels: number): ChannelArrays {
  const at = (k: number) => new Float64Array(buffer, byteOffset + k * channels * 8, channels);
  const arrays = { sum: at(0), squares: at(1), a: at(2), b: at(3), sumG: at(4), sumGX: at(5), k1: at(6), k2: at(7), k3: at(8) };
  arrays.sum.fill(0);
  arrays.squares.fill(0);
  arrays.sumG.fill(0);
  arrays.sumGX.fill(0);
  return arrays;
}

function sumMoments(x: Float32Array, channels: number, { sum, squares }: ChannelArrays): void {
  const rows = x.length / channels;
  for (let r = 0, i = 0; r < rows; r++) {
    for (let c = 0; c < channels; c++, i++) {
      const d = x[i]! - x[c]!;
      sum[c]! += d;
      squares[c]! += d * d;
    }
  }
}

/** From the sums: mean μ, s = 1/√(σ² + ε), a = γs, b = β − aμ (per channel). */
function finishMoments(
  firstRow: ArrayLike<number>,
  rows: number,
  scale: ArrayLike<number>,
  offset: ArrayLike<number>,
  epsilon: number,
  { sum, squares, a, b }: ChannelArrays,
): { mean: Float64Array; inverseStd: Float64Array } {
  const channels = scale.length;
  const mean = new Float64Array(channels);
  const inverseStd = new Float64Array(channels);
  for (let c = 0; c < channels; c++) {
    const shifted = sum[c]! / rows;
    mean[c] = firstRow[c]! + shifted;
    inverseStd[c] = 1 / Math.sqrt(Math.max(squares[c]! / rows - shifted * shifted, 0) + epsilon);
    a[c] = scale[c]! * inverseStd[c]!;
    b[c] = offset[c]! - a[c]! * mean[c]!;
  }
  return { mean, inverseStd };
}

/**
 * From Σg and Σg·x: dβ = Σg, dγ = M·m and the coefficients of dx = g·k₁ + x·k₂ + k₃, where
 * ḡ = Σg/M, m = mean(g·x̂) = s·(Σg·x/M − μḡ), dx = γs(g − ḡ − x̂·m): k₁ = γs, k₂ = −γs²m, k₃ = −γsḡ − k₂μ.
 */
function finishBackward(
  rows: number,
  mean: Float64Array,
  inverseStd: Float64Array,
  { a, sumG, sumGX, k1, k2, k3 }: ChannelArrays,
  dScale: Float32Array,
  dOffset: Float32Array,
): void {
  for (let c = 0; c < a.length; c++) {
    const gMean = sumG[c]! / rows;
    const gxMean = inverseStd[c]! * (sumGX[c]! / rows - mean[c]! * gMean);
    dOffset[c] = sumG[c]!;
    dScale[c] = gxMean * rows;
    k1[c] = a[c]!;
    k2[c] = -(a[c]! * inverseStd[c]! * gxMean);
    k3[c] = -(a[c]! * gMean) - k2[c]! * mean[c]!;
  }
}

function normalise(x: Float32Array, y: Float32Array, relu: boolean, { a, b }: ChannelArrays): void {
  const channels = a.length;
  const rows = x.length / channels;
  if (relu) {
    for (let r = 0, i = 0; r < rows; r++) {
      for (let c = 0; c < channels; c++, i++) {
        const z = x[i]! * a[c]! + b[c]!;
        // biome-ignore lint/complexity/useMathMinMax: Math.max keeps NaN and −0; the SIMD mask and the C++ give +0 for both
        y[i] = z > 0 ? z : 0;
      }
    }
  } else {
    for (let r = 0, i = 0; r < rows; r++) for (let c = 0; c < channels; c++, i++) y[i] = x[i]! * a[c]! + b[c]!;
  }
}

function sumGradients(x: Float32Array, dy: Float32Array, relu: boolean, { a, b, sumG, sumGX }: ChannelArrays): void {
  const channels = a.length;
  const rows = x.length / channels;
  for (let r = 0, i = 0; r < rows; r++) {
    for (let c = 0; c < channels; c++, i++) {
      const xi = x[i]!;
      const g = !relu || xi * a[c]! + b[c]! > 0 ? dy[i]! : 0;
      sumG[c]! += g;
      sumGX[c]! += g * xi;
    }
  }
}

function inputGradient(x: Float32Array, dy: Float32Array, dx: Float32Array, relu: boolean, { a, b, k1, k2, k3 }: ChannelArrays): void {
  const channels = a.length;
  const rows = x.length / channels;
  if (relu) {
    for (let r = 0, i = 0; r < rows; r++) {
      for (let c = 0; c < channels; c++, i++) {
        const xi = x[i]!;
        const g = xi * a[c]! + b[c]! > 0 ? dy[i]! : 0;
        dx[i] = g * k1[c]! + xi * k2[c]! + k3[c]!;
      }
    }
  } else {
    for (let r = 0, i = 0; r < rows; r++) {
      for (let c = 0; c < channels; c++, i++) dx[i] = dy[i]! * k1[c]! + x[i]! * k2[c]! + k3[c]!;
    }
  }
}

/** y = relu?(γ·(x − μ)·s + β), x and y [rows, channels] (see BATCH_NORM_KERNEL); JavaScript. */
export function batchNormForward(x: Float32Array, scale: Float32Array, offset: Float32Array, y: Float32Array, epsilon: number, relu: boolean): void {
  const channels = scale.length;
  const arrays = channelArrays(new ArrayBuffer(channels * 8 * CHANNEL_ARRAYS), 0, channels);
  sumMoments(x, channels, arrays);
  finishMoments(x, x.length / channels, scale, offset, epsilon, arrays);
  normalise(x, y, relu, arrays);
}

/**
 * dx, dγ, dβ of batchNormForward for upstream dy (see BATCH_NORM_GRAD_KERNEL); JavaScript. The
 * ReLU mask is recomputed from x with the forward's exact arithmetic, so it is the forward's y > 0.
 */
export function batchNormBackward(
  x: Float32Array,
  scale: Float32Array,
  offset: Float32Array,
  dy: Float32Array,
  dx: Float32Array,
  dScale: Float32Array,
  dOffset: Float32Array,
  epsilon: number,
  relu: boolean,
): void {
  const channels = scale.length;
  const rows = x.length / channels;
  const arrays = channelArrays(new ArrayBuffer(channels * 8 * CHANNEL_ARRAYS), 0, channels);
  sumMoments(x, channels, arrays);
  const { mean, inverseStd } = finishMoments(x, rows, scale, offset, epsilon, arrays);
  sumGradients(x, dy, relu, arrays);
  finishBackward(rows, mean, inverseStd, arrays, dScale, dOffset);
  inputGradient(x, dy, dx, relu, arrays);
}

/**
 * The wasm heap version of both kernels: gemm.wat's SIMD passes with the per-channel finishing in
 * JavaScript (scratch from the wasm allocator). `dy`, `dx`, `dScale`, `dOffset` are byte offsets
 * for the backward kernel, undefined for the forward one (which writes `out`).
 */
function wasmBatchNorm(
  wasm: WasmHeapBackend,
  kernels: SimdKernels,
  p: { x: number; scale: number; offset: number; rows: number; channels: number; epsilon: number; relu: boolean },
  forwardOut: number | undefined,
  backward?: { dy: number; dx: number; dScale: number; dOffset: number },
): void {
  const { rows, channels } = p;
  const scratch = wasm.wasm._malloc(channels * 8 * CHANNEL_ARRAYS);
  try {
    // Views after the allocation (which may grow the heap).
    const buffer = wasm.wasm.HEAP32.buffer;
    const arrays = channelArrays(buffer, scratch, channels);
    const at = (name: keyof ChannelArrays) => arrays[name].byteOffset;
    const floats = (offset: number, length: number) => new Float32Array(buffer, offset, length);
    kernels.bn_moments(p.x, rows, channels, at("sum"), at("squares"));
    const { mean, inverseStd } = finishMoments(floats(p.x, channels), rows, floats(p.scale, channels), floats(p.offset, channels), p.epsilon, arrays);
    const relu = p.relu ? 1 : 0;
    if (!backward) {
      kernels.bn_forward(p.x, forwardOut!, at("a"), at("b"), rows, channels, relu);
      return;
    }
    kernels.bn_sums(p.x, backward.dy, at("a"), at("b"), rows, channels, relu, at("sumG"), at("sumGX"));
    finishBackward(rows, mean, inverseStd, arrays, floats(backward.dScale, channels), floats(backward.dOffset, channels));
    kernels.bn_dx(p.x, backward.dy, at("a"), at("b"), at("k1"), at("k2"), at("k3"), backward.dx, rows, channels, relu);
  } finally {
    wasm.wasm._free(scratch);
  }
}

function checkedAttrs(attrs: unknown): { epsilon: number; relu: boolean } {
  const { epsilon, relu } = (attrs ?? {}) as Partial<BatchNormAttrs>;
  if (typeof epsilon !== "number" || !(epsilon > 0)) throw new Error(`${BATCH_NORM_KERNEL}: expected attribute epsilon > 0, got ${String(epsilon)}`);
  return { epsilon, relu: relu === true };
}

function checkedInputs(kernelName: string, inputs: Record<string, TensorInfo | undefined>, names: readonly string[]): TensorInfo[] {
  const tensors = names.map((name) => inputs[name]);
  const [x, scale, offset, dy] = tensors;
  const channels = x?.shape[x.shape.length - 1];
  const ok =
    x !== undefined &&
    x.shape.length === 4 &&
    tf.util.sizeFromShape(x.shape) > 0 &&
    tensors.every((t) => t !== undefined && t.dtype === "float32") &&
    [scale, offset].every((t) => t!.shape.length === 1 && t!.shape[0] === channels) &&
    (dy === undefined || tf.util.arraysEqual(dy.shape, x.shape));
  if (!ok) {
    const got = names.map((name, i) => `${name} ${tensors[i] ? `${tensors[i]!.dtype} [${tensors[i]!.shape.join(", ")}]` : "missing"}`).join(", ");
    throw new Error(`${kernelName}: expected float32 x [N, H, W, C] (not empty), scale and offset [C]${names.includes("dy") ? ", dy like x" : ""}; got ${got}`);
  }
  return tensors as TensorInfo[];
}

interface CpuBackend {
  data: { get(dataId: object): { values: Float32Array } };
  makeTensorInfo(shape: number[], dtype: "float32", values: Float32Array): TensorInfo;
}

/**
 * Moments the native forward kernel computed, by the dataId of the x they belong to (a dataId's
 * values never change; the gradient's saved x shares the forward's dataId). The backward kernel of
 * the same x and ε reuses them instead of a pass over x (batchNormMoments: the same bits).
 */
const nativeMoments = new WeakMap<object, { readonly epsilon: number; readonly moments: Float64Array }>();

function savedMoments(x: TensorInfo, epsilon: number, channels: number): Float64Array | undefined {
  const saved = nativeMoments.get(x.dataId);
  return saved !== undefined && saved.epsilon === epsilon && saved.moments.length === 2 * channels ? saved.moments : undefined;
}

function forwardKernel(backendName: "cpu" | "wasm"): KernelFunc {
  return ({ inputs, backend, attrs }) => {
    const { epsilon, relu } = checkedAttrs(attrs);
    const [x, scale, offset] = checkedInputs(BATCH_NORM_KERNEL, inputs as Record<string, TensorInfo>, ["x", "scale", "offset"]) as [
      TensorInfo,
      TensorInfo,
      TensorInfo,
    ];
    const size = tf.util.sizeFromShape(x.shape);
    const channels = scale.shape[0]!;
    if (backendName === "cpu") {
      const cpu = backend as unknown as CpuBackend;
      const y = new Float32Array(size);
      batchNormForward(cpu.data.get(x.dataId).values, cpu.data.get(scale.dataId).values, cpu.data.get(offset.dataId).values, y, epsilon, relu);
      return cpu.makeTensorInfo([...x.shape], "float32", y);
    }
    const wasm = backend as unknown as WasmHeapBackend;
    const out = wasm.makeOutput([...x.shape], "float32");
    const offsetOf = (t: TensorInfo) => wasm.dataIdMap.get(t.dataId)!.memoryOffset;
    const native = nativeKernels();
    if (native?.batchNorm) {
      const args = [heapBuffer(wasm), offsetOf(x), offsetOf(scale), offsetOf(offset), offsetOf(out), size / channels, channels, epsilon, relu ? 1 : 0] as const;
      if (native.batchNormMoments) {
        const moments = new Float64Array(2 * channels);
        native.batchNorm(...args, moments);
        nativeMoments.set(x.dataId, { epsilon, moments });
      } else {
        native.batchNorm(...args); // a provider without the moments argument may count its arguments
      }
      return out;
    }
    const simd = simdKernels(wasm);
    if (simd) {
      wasmBatchNorm(
        wasm,
        simd,
        { x: offsetOf(x), scale: offsetOf(scale), offset: offsetOf(offset), rows: size / channels, channels, epsilon, relu },
        offsetOf(out),
      );
      return out;
    }
    // Views are taken after the output is allocated (which may grow the heap).
    const buffer = wasm.wasm.HEAP32.buffer;
    const view = (t: TensorInfo, length: number) => new Float32Array(buffer, offsetOf(t), length);
    batchNormForward(view(x, size), view(scale, channels), view(offset, channels), view(out, size), epsilon, relu);
    return out;
  };
}

function backwardKernel(backendName: "cpu" | "wasm"): KernelFunc {
  return ({ inputs, backend, attrs }) => {
    const { epsilon, relu } = checkedAttrs(attrs);
    const [x, scale, offset, dy] = checkedInputs(BATCH_NORM_GRAD_KERNEL, inputs as Record<string, TensorInfo>, ["x", "scale", "offset", "dy"]) as [
      TensorInfo,
      TensorInfo,
      TensorInfo,
      TensorInfo,
    ];
    const size = tf.util.sizeFromShape(x.shape);
    const channels = scale.shape[0]!;
    if (backendName === "cpu") {
      const cpu = backend as unknown as CpuBackend;
      const [dx, dScale, dOffset] = [new Float32Array(size), new Float32Array(channels), new Float32Array(channels)];
      const values = (t: TensorInfo) => cpu.data.get(t.dataId).values;
      batchNormBackward(values(x), values(scale), values(offset), values(dy), dx, dScale, dOffset, epsilon, relu);
      return [
        cpu.makeTensorInfo([...x.shape], "float32", dx),
        cpu.makeTensorInfo([channels], "float32", dScale),
        cpu.makeTensorInfo([channels], "float32", dOffset),
      ];
    }
    const wasm = backend as unknown as WasmHeapBackend;
    const outputs = [wasm.makeOutput([...x.shape], "float32"), wasm.makeOutput([channels], "float32"), wasm.makeOutput([channels], "float32")] as const;
    const offsetOf = (t: TensorInfo) => wasm.dataIdMap.get(t.dataId)!.memoryOffset;
    const native = nativeKernels();
    if (native?.batchNormGrad) {
      const moments = native.batchNormMoments ? savedMoments(x, epsilon, channels) : undefined;
      const args = [
        heapBuffer(wasm),
        offsetOf(x),
        offsetOf(scale),
        offsetOf(offset),
        offsetOf(dy),
        offsetOf(outputs[0]),
        offsetOf(outputs[1]),
        offsetOf(outputs[2]),
        size / channels,
        channels,
        epsilon,
        relu ? 1 : 0,
      ] as const;
      if (moments) native.batchNormGrad(...args, moments);
      else native.batchNormGrad(...args);
      return [...outputs];
    }
    const simd = simdKernels(wasm);
    if (simd) {
      wasmBatchNorm(
        wasm,
        simd,
        { x: offsetOf(x), scale: offsetOf(scale), offset: offsetOf(offset), rows: size / channels, channels, epsilon, relu },
        undefined,
        {
          dy: offsetOf(dy),
          dx: offsetOf(outputs[0]),
          dScale: offsetOf(outputs[1]),
          dOffset: offsetOf(outputs[2]),
        },
      );
      return [...outputs];
    }
    const buffer = wasm.wasm.HEAP32.buffer;
    const view = (t: TensorInfo, length: number) => new Float32Array(buffer, offsetOf(t), length);
    batchNormBackward(
      view(x, size),
      view(scale, channels),
      view(offset, channels),
      view(dy, size),
      view(outputs[0], size),
      view(outputs[1], channels),
      view(outputs[2], channels),
      epsilon,
      relu,
    );
    return [...outputs];
  };
}

/**
 * Registers BATCH_NORM_KERNEL and BATCH_NORM_GRAD_KERNEL on cpu and wasm (the wasm ones are used
 * only if that backend loads; they call the native addon's batchNorm/batchNormGrad while it is
 * installed and provides them). Their gradients are part of Concord's gradient set. Part of
 * installConcord() (fast kernel "batch-norm": models run the op-by-op form when it is left out).
 */
export function installFusedBatchNorm(): boolean {
  for (const backendName of ["cpu", "wasm"] as const) {
    for (const [kernelName, make] of [
      [BATCH_NORM_KERNEL, forwardKernel],
      [BATCH_NORM_GRAD_KERNEL, backwardKernel],
    ] as const) {
      if (!tf.getKernel(kernelName, backendName)) replaceKernel({ kernelName, backendName, kernelFunc: make(backendName) }, "batch-norm");
    }
  }
  return true;
}
