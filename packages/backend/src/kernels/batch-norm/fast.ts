// ConcordBatchNorm, ConcordBatchNormGrad and ConcordBatchNormGradGrad (contract.ts) as registered on
// cpu and wasm: the cpu kernels run the reference (reference.ts); the wasm ones the addon
// (native.ts) when it provides them, else gemm.wat's SIMD passes (wasm.ts), else the reference on
// the heap. Performance: written op by op (tf.moments + sub/div/mul/add + relu) one conv-net block
// runs about 12 kernels forward, 30 backward and 58 for the backward's own gradient (second-order
// MAML) over [K, 28, 28, 64] tensors, each a full pass over memory plus ~14 µs of tfjs bookkeeping;
// these are one kernel each and 2–4 passes. Gradients: gradient.ts.
import * as tf from "@tensorflow/tfjs-core";
import type { KernelFunc, TensorInfo } from "@tensorflow/tfjs-core";
import { replaceKernel } from "../../registry-journal.js";
import { nativeKernels } from "../native-kernels.js";
import { simdKernels, type WasmHeapBackend } from "../simd-module.js";
import { BATCH_NORM_GRAD_GRAD_KERNEL, BATCH_NORM_GRAD_KERNEL, BATCH_NORM_KERNEL, type BatchNormAttrs } from "./contract.js";
import { nativeBatchNorm, nativeBatchNormGrad, nativeBatchNormGradGrad } from "./native.js";
import { batchNormBackward, batchNormForward, batchNormGradGrad } from "./reference.js";
import { wasmBatchNorm, wasmBatchNormGradGrad } from "./wasm.js";

function checkedAttrs(attrs: unknown, kernelName = BATCH_NORM_KERNEL): { epsilon: number; relu: boolean } {
  const { epsilon, relu } = (attrs ?? {}) as Partial<BatchNormAttrs>;
  if (typeof epsilon !== "number" || !(epsilon > 0)) throw new Error(`${kernelName}: expected attribute epsilon > 0, got ${String(epsilon)}`);
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
      nativeBatchNorm(
        wasm,
        native,
        { x: offsetOf(x), scale: offsetOf(scale), offset: offsetOf(offset), out: offsetOf(out) },
        x,
        size / channels,
        channels,
        epsilon,
        relu,
      );
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
      const offsets = {
        x: offsetOf(x),
        scale: offsetOf(scale),
        offset: offsetOf(offset),
        dy: offsetOf(dy),
        dx: offsetOf(outputs[0]),
        dScale: offsetOf(outputs[1]),
        dOffset: offsetOf(outputs[2]),
      };
      nativeBatchNormGrad(wasm, native, offsets, x, size / channels, channels, epsilon, relu);
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

/** The second-order kernel's optional upstreams a (like x), b and e ([C]), checked; absent ones undefined. */
function checkedUpstreams(inputs: Record<string, TensorInfo | undefined>, x: TensorInfo, channels: number): { a?: TensorInfo; b?: TensorInfo; e?: TensorInfo } {
  const { a, b, e } = inputs;
  const like = (t: TensorInfo | undefined, shape: number[]) => t === undefined || (t.dtype === "float32" && tf.util.arraysEqual(t.shape, shape));
  if (!like(a, [...x.shape]) || !like(b, [channels]) || !like(e, [channels])) {
    const got = (["a", "b", "e"] as const)
      .map((name) => `${name} ${inputs[name] ? `${inputs[name]!.dtype} [${inputs[name]!.shape.join(", ")}]` : "absent"}`)
      .join(", ");
    throw new Error(`${BATCH_NORM_GRAD_GRAD_KERNEL}: expected float32 upstreams a like x, b and e [C] (each optional); got ${got}`);
  }
  return { ...(a ? { a } : {}), ...(b ? { b } : {}), ...(e ? { e } : {}) };
}

function gradGradKernel(backendName: "cpu" | "wasm"): KernelFunc {
  return ({ inputs, backend, attrs }) => {
    const { epsilon, relu } = checkedAttrs(attrs, BATCH_NORM_GRAD_GRAD_KERNEL);
    const named = inputs as Record<string, TensorInfo | undefined>;
    const [x, scale, offset, dy] = checkedInputs(BATCH_NORM_GRAD_GRAD_KERNEL, named, ["x", "scale", "offset", "dy"]) as [
      TensorInfo,
      TensorInfo,
      TensorInfo,
      TensorInfo,
    ];
    const size = tf.util.sizeFromShape(x.shape);
    const channels = scale.shape[0]!;
    const upstream = checkedUpstreams(named, x, channels);
    if (backendName === "cpu") {
      const cpu = backend as unknown as CpuBackend;
      const [dX, dScale, dDy] = [new Float32Array(size), new Float32Array(channels), new Float32Array(size)];
      const values = (t: TensorInfo | undefined) => (t ? cpu.data.get(t.dataId).values : undefined);
      const upstreamValues = { a: values(upstream.a), b: values(upstream.b), e: values(upstream.e) };
      batchNormGradGrad(values(x)!, values(scale)!, values(offset)!, values(dy)!, upstreamValues, dX, dScale, dDy, epsilon, relu);
      return [
        cpu.makeTensorInfo([...x.shape], "float32", dX),
        cpu.makeTensorInfo([channels], "float32", dScale),
        cpu.makeTensorInfo([...x.shape], "float32", dDy),
      ];
    }
    const wasm = backend as unknown as WasmHeapBackend;
    const outputs = [wasm.makeOutput([...x.shape], "float32"), wasm.makeOutput([channels], "float32"), wasm.makeOutput([...x.shape], "float32")] as const;
    const offsetOf = (t: TensorInfo) => wasm.dataIdMap.get(t.dataId)!.memoryOffset;
    const native = nativeKernels();
    if (native?.batchNormGradGrad) {
      const absent = -1;
      const offsets = {
        x: offsetOf(x),
        scale: offsetOf(scale),
        offset: offsetOf(offset),
        dy: offsetOf(dy),
        a: upstream.a ? offsetOf(upstream.a) : absent,
        b: upstream.b ? offsetOf(upstream.b) : absent,
        e: upstream.e ? offsetOf(upstream.e) : absent,
        dX: offsetOf(outputs[0]),
        dScale: offsetOf(outputs[1]),
        dDy: offsetOf(outputs[2]),
      };
      nativeBatchNormGradGrad(wasm, native, offsets, x, size / channels, channels, epsilon, relu);
      return [...outputs];
    }
    const simd = simdKernels(wasm);
    if (simd) {
      const offsetOrUndefined = (t: TensorInfo | undefined) => (t ? offsetOf(t) : undefined);
      wasmBatchNormGradGrad(
        wasm,
        simd,
        { x: offsetOf(x), scale: offsetOf(scale), offset: offsetOf(offset), dy: offsetOf(dy), rows: size / channels, channels, epsilon, relu },
        { a: offsetOrUndefined(upstream.a), b: offsetOrUndefined(upstream.b), e: offsetOrUndefined(upstream.e) },
        { dX: offsetOf(outputs[0]), dScale: offsetOf(outputs[1]), dDy: offsetOf(outputs[2]) },
      );
      return [...outputs];
    }
    // Views are taken after the outputs are allocated (which may grow the heap).
    const buffer = wasm.wasm.HEAP32.buffer;
    const view = (t: TensorInfo, length: number) => new Float32Array(buffer, offsetOf(t), length);
    const upstreamViews = {
      a: upstream.a ? view(upstream.a, size) : undefined,
      b: upstream.b ? view(upstream.b, channels) : undefined,
      e: upstream.e ? view(upstream.e, channels) : undefined,
    };
    batchNormGradGrad(
      view(x, size),
      view(scale, channels),
      view(offset, channels),
      view(dy, size),
      upstreamViews,
      view(outputs[0], size),
      view(outputs[1], channels),
      view(outputs[2], size),
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

/**
 * Registers BATCH_NORM_GRAD_GRAD_KERNEL on cpu and wasm (the wasm one calls the addon's
 * batchNormGradGrad while it is installed and provides it). The gradient of BATCH_NORM_GRAD_KERNEL
 * (gradient.ts) runs it where it is registered, else ~35 differentiable tf ops. Part of
 * installConcord() (fast kernel "batch-norm-grad-grad": leaving it out gives the tf-op path's
 * float32 rounding, that of second-order records made before it).
 */
export function installBatchNormGradGrad(): boolean {
  for (const backendName of ["cpu", "wasm"] as const) {
    if (!tf.getKernel(BATCH_NORM_GRAD_GRAD_KERNEL, backendName)) {
      replaceKernel({ kernelName: BATCH_NORM_GRAD_GRAD_KERNEL, backendName, kernelFunc: gradGradKernel(backendName) }, "batch-norm-grad-grad");
    }
  }
  return true;
}
