// ConcordBatchNorm, ConcordBatchNormGrad and ConcordBatchNormGradGrad (contract.ts) as registered on
// cpu and wasm: the cpu kernels run the reference (reference.ts); the wasm ones the addon
// (native.ts) when it provides them, else gemm.wat's SIMD passes (wasm.ts), else the reference on
// the heap. Performance: written op by op (tf.moments + sub/div/mul/add + relu) one conv-net block
// runs about 12 kernels forward, 30 backward and 58 for the backward's own gradient (second-order
// MAML) over [K, 28, 28, 64] tensors, each a full pass over memory plus ~14 µs of tfjs bookkeeping;
// these are one kernel each and 2–4 passes. Gradients: gradient.ts. With attribute groups > 1
// every path runs its ungrouped arithmetic once per block (shifted views or heap offsets), so each
// block gets the bits of a call on that block alone.
import * as tf from "@tensorflow/tfjs-core";
import type { KernelFunc, TensorInfo } from "@tensorflow/tfjs-core";
import { replaceKernel } from "../../registry-journal.js";
import { nativeKernels } from "../native-kernels.js";
import { simdKernels, type WasmHeapBackend } from "../simd-module.js";
import { BATCH_NORM_GRAD_GRAD_KERNEL, BATCH_NORM_GRAD_KERNEL, BATCH_NORM_KERNEL, type BatchNormAttrs } from "./contract.js";
import { blockOffset, nativeBatchNorm, nativeBatchNormGrad, nativeBatchNormGradGrad } from "./native.js";
import { batchNormBackward, batchNormForward, batchNormGradGrad } from "./reference.js";
import { wasmBatchNorm, wasmBatchNormGradGrad } from "./wasm.js";

function checkedAttrs(attrs: unknown, kernelName = BATCH_NORM_KERNEL): { epsilon: number; relu: boolean; groups: number } {
  const { epsilon, relu, groups = 1 } = (attrs ?? {}) as Partial<BatchNormAttrs>;
  if (typeof epsilon !== "number" || !(epsilon > 0)) throw new Error(`${kernelName}: expected attribute epsilon > 0, got ${String(epsilon)}`);
  if (!Number.isInteger(groups) || groups < 1)
    throw new Error(`${kernelName}: expected attribute groups a positive integer (or absent: 1), got ${String(groups)}`);
  return { epsilon, relu: relu === true, groups };
}

/** The shape scale, offset and their gradients have: [C], or [groups, C] with groups > 1. */
function scaleShape(groups: number, channels: number): number[] {
  return groups === 1 ? [channels] : [groups, channels];
}

function checkedInputs(kernelName: string, inputs: Record<string, TensorInfo | undefined>, names: readonly string[], groups: number): TensorInfo[] {
  const tensors = names.map((name) => inputs[name]);
  const [x, scale, offset, dy] = tensors;
  const channels = x?.shape[x.shape.length - 1];
  const scaleText = groups === 1 ? "[C]" : `[groups, C] (groups ${groups})`;
  const ok =
    x !== undefined &&
    x.shape.length === 4 &&
    tf.util.sizeFromShape(x.shape) > 0 &&
    tensors.every((t) => t !== undefined && t.dtype === "float32") &&
    [scale, offset].every((t) => tf.util.arraysEqual(t!.shape, scaleShape(groups, channels!))) &&
    (dy === undefined || tf.util.arraysEqual(dy.shape, x.shape));
  if (!ok) {
    const got = names.map((name, i) => `${name} ${tensors[i] ? `${tensors[i]!.dtype} [${tensors[i]!.shape.join(", ")}]` : "missing"}`).join(", ");
    throw new Error(
      `${kernelName}: expected float32 x [N, H, W, C] (not empty), scale and offset ${scaleText}${names.includes("dy") ? ", dy like x" : ""}; got ${got}`,
    );
  }
  if (x.shape[0]! % groups !== 0) {
    throw new Error(`${kernelName}: expected x's N divisible by attribute groups (blocks of N/groups images); got x [${x.shape.join(", ")}], groups ${groups}`);
  }
  return tensors as TensorInfo[];
}

interface CpuBackend {
  data: { get(dataId: object): { values: Float32Array } };
  makeTensorInfo(shape: number[], dtype: "float32", values: Float32Array): TensorInfo;
}

/**
 * How one call splits into blocks: block g of an x-like operand is the `block` floats at g·block,
 * of a scale-like one the `channels` floats at g·channels; each block is one call of the ungrouped
 * arithmetic (so a grouped call gives each block's own bits).
 */
interface Blocks {
  readonly groups: number;
  readonly channels: number;
  /** Floats per block of an x-like operand. */
  readonly block: number;
  /** Rows per block, block / channels. */
  readonly rows: number;
}

function blocksOf(x: TensorInfo, groups: number): Blocks {
  const channels = x.shape[3]!;
  const block = tf.util.sizeFromShape(x.shape) / groups;
  return { groups, channels, block, rows: block / channels };
}

/** Block g of x-like (`long`) or scale-like values: a view. */
function part(values: Float32Array, blocks: Blocks, g: number, long: boolean): Float32Array {
  const length = long ? blocks.block : blocks.channels;
  return values.subarray(g * length, (g + 1) * length);
}

/** Byte offset of block g of an x-like (`long`) or scale-like operand at `offset` on the wasm heap. */
function shift(offset: number, blocks: Blocks, g: number, long: boolean): number {
  return blockOffset(offset, g, blocks.rows, blocks.channels, long);
}

function forwardKernel(backendName: "cpu" | "wasm"): KernelFunc {
  return ({ inputs, backend, attrs }) => {
    const { epsilon, relu, groups } = checkedAttrs(attrs);
    const [x, scale, offset] = checkedInputs(BATCH_NORM_KERNEL, inputs as Record<string, TensorInfo>, ["x", "scale", "offset"], groups) as [
      TensorInfo,
      TensorInfo,
      TensorInfo,
    ];
    const size = tf.util.sizeFromShape(x.shape);
    const blocks = blocksOf(x, groups);
    const { channels, rows } = blocks;
    if (backendName === "cpu") {
      const cpu = backend as unknown as CpuBackend;
      const y = new Float32Array(size);
      const [xs, scales, offsets] = [x, scale, offset].map((t) => cpu.data.get(t.dataId).values) as [Float32Array, Float32Array, Float32Array];
      for (let g = 0; g < groups; g++) {
        batchNormForward(part(xs, blocks, g, true), part(scales, blocks, g, false), part(offsets, blocks, g, false), part(y, blocks, g, true), epsilon, relu);
      }
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
        rows,
        channels,
        epsilon,
        relu,
        groups,
      );
      return out;
    }
    const simd = simdKernels(wasm);
    if (simd) {
      for (let g = 0; g < groups; g++) {
        const at = (t: TensorInfo, long: boolean) => shift(offsetOf(t), blocks, g, long);
        wasmBatchNorm(wasm, simd, { x: at(x, true), scale: at(scale, false), offset: at(offset, false), rows, channels, epsilon, relu }, at(out, true));
      }
      return out;
    }
    // Views are taken after the output is allocated (which may grow the heap).
    const buffer = wasm.wasm.HEAP32.buffer;
    const view = (t: TensorInfo, length: number) => new Float32Array(buffer, offsetOf(t), length);
    const [xs, scales, offsets, y] = [view(x, size), view(scale, groups * channels), view(offset, groups * channels), view(out, size)];
    for (let g = 0; g < groups; g++) {
      batchNormForward(part(xs, blocks, g, true), part(scales, blocks, g, false), part(offsets, blocks, g, false), part(y, blocks, g, true), epsilon, relu);
    }
    return out;
  };
}

function backwardKernel(backendName: "cpu" | "wasm"): KernelFunc {
  return ({ inputs, backend, attrs }) => {
    const { epsilon, relu, groups } = checkedAttrs(attrs, BATCH_NORM_GRAD_KERNEL);
    const [x, scale, offset, dy] = checkedInputs(BATCH_NORM_GRAD_KERNEL, inputs as Record<string, TensorInfo>, ["x", "scale", "offset", "dy"], groups) as [
      TensorInfo,
      TensorInfo,
      TensorInfo,
      TensorInfo,
    ];
    const size = tf.util.sizeFromShape(x.shape);
    const blocks = blocksOf(x, groups);
    const { channels, rows } = blocks;
    const perChannel = groups * channels;
    // Block g of [x, scale, offset, dy, dx, dScale, dOffset] (x-like or scale-like), one ungrouped backward call.
    const LONG = [true, false, false, true, true, false, false];
    const backwardBlocks = (arrays: Float32Array[]) => {
      for (let g = 0; g < groups; g++) {
        const [xb, scaleb, offsetb, dyb, dxb, dScaleb, dOffsetb] = arrays.map((values, k) => part(values, blocks, g, LONG[k]!)) as Float32Array[];
        batchNormBackward(xb!, scaleb!, offsetb!, dyb!, dxb!, dScaleb!, dOffsetb!, epsilon, relu);
      }
    };
    if (backendName === "cpu") {
      const cpu = backend as unknown as CpuBackend;
      const [dx, dScale, dOffset] = [new Float32Array(size), new Float32Array(perChannel), new Float32Array(perChannel)];
      const values = (t: TensorInfo) => cpu.data.get(t.dataId).values;
      backwardBlocks([values(x), values(scale), values(offset), values(dy), dx, dScale, dOffset]);
      return [
        cpu.makeTensorInfo([...x.shape], "float32", dx),
        cpu.makeTensorInfo([...scale.shape], "float32", dScale),
        cpu.makeTensorInfo([...scale.shape], "float32", dOffset),
      ];
    }
    const wasm = backend as unknown as WasmHeapBackend;
    const outputs = [
      wasm.makeOutput([...x.shape], "float32"),
      wasm.makeOutput([...scale.shape], "float32"),
      wasm.makeOutput([...scale.shape], "float32"),
    ] as const;
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
      nativeBatchNormGrad(wasm, native, offsets, x, rows, channels, epsilon, relu, groups);
      return [...outputs];
    }
    const simd = simdKernels(wasm);
    if (simd) {
      for (let g = 0; g < groups; g++) {
        const at = (t: TensorInfo, long: boolean) => shift(offsetOf(t), blocks, g, long);
        wasmBatchNorm(wasm, simd, { x: at(x, true), scale: at(scale, false), offset: at(offset, false), rows, channels, epsilon, relu }, undefined, {
          dy: at(dy, true),
          dx: at(outputs[0], true),
          dScale: at(outputs[1], false),
          dOffset: at(outputs[2], false),
        });
      }
      return [...outputs];
    }
    const buffer = wasm.wasm.HEAP32.buffer;
    const view = (t: TensorInfo, length: number) => new Float32Array(buffer, offsetOf(t), length);
    backwardBlocks([
      view(x, size),
      view(scale, perChannel),
      view(offset, perChannel),
      view(dy, size),
      view(outputs[0], size),
      view(outputs[1], perChannel),
      view(outputs[2], perChannel),
    ]);
    return [...outputs];
  };
}

/** The second-order kernel's optional upstreams a (like x), b and e (like scale), checked; absent ones undefined. */
function checkedUpstreams(
  inputs: Record<string, TensorInfo | undefined>,
  x: TensorInfo,
  scale: TensorInfo,
): { a?: TensorInfo; b?: TensorInfo; e?: TensorInfo } {
  const { a, b, e } = inputs;
  const like = (t: TensorInfo | undefined, shape: readonly number[]) => t === undefined || (t.dtype === "float32" && tf.util.arraysEqual(t.shape, [...shape]));
  if (!like(a, x.shape) || !like(b, scale.shape) || !like(e, scale.shape)) {
    const got = (["a", "b", "e"] as const)
      .map((name) => `${name} ${inputs[name] ? `${inputs[name]!.dtype} [${inputs[name]!.shape.join(", ")}]` : "absent"}`)
      .join(", ");
    const scaleText = scale.shape.length === 1 ? "[C]" : "[groups, C] like scale";
    throw new Error(`${BATCH_NORM_GRAD_GRAD_KERNEL}: expected float32 upstreams a like x, b and e ${scaleText} (each optional); got ${got}`);
  }
  return { ...(a ? { a } : {}), ...(b ? { b } : {}), ...(e ? { e } : {}) };
}

function gradGradKernel(backendName: "cpu" | "wasm"): KernelFunc {
  return ({ inputs, backend, attrs }) => {
    const { epsilon, relu, groups } = checkedAttrs(attrs, BATCH_NORM_GRAD_GRAD_KERNEL);
    const named = inputs as Record<string, TensorInfo | undefined>;
    const [x, scale, offset, dy] = checkedInputs(BATCH_NORM_GRAD_GRAD_KERNEL, named, ["x", "scale", "offset", "dy"], groups) as [
      TensorInfo,
      TensorInfo,
      TensorInfo,
      TensorInfo,
    ];
    const size = tf.util.sizeFromShape(x.shape);
    const blocks = blocksOf(x, groups);
    const { channels, rows } = blocks;
    const perChannel = groups * channels;
    const upstream = checkedUpstreams(named, x, scale);
    // Block g of every operand, one ungrouped second-order call.
    const gradGradBlocks = (
      [xs, scales, offsets, dys]: Float32Array[],
      up: { a?: Float32Array | undefined; b?: Float32Array | undefined; e?: Float32Array | undefined },
      [dX, dScale, dDy]: Float32Array[],
    ) => {
      for (let g = 0; g < groups; g++) {
        const long = (values: Float32Array) => part(values, blocks, g, true);
        const short = (values: Float32Array) => part(values, blocks, g, false);
        const upstreamBlock = { a: up.a && long(up.a), b: up.b && short(up.b), e: up.e && short(up.e) };
        batchNormGradGrad(long(xs!), short(scales!), short(offsets!), long(dys!), upstreamBlock, long(dX!), short(dScale!), long(dDy!), epsilon, relu);
      }
    };
    if (backendName === "cpu") {
      const cpu = backend as unknown as CpuBackend;
      const outputs = [new Float32Array(size), new Float32Array(perChannel), new Float32Array(size)];
      const values = (t: TensorInfo | undefined) => (t ? cpu.data.get(t.dataId).values : undefined);
      gradGradBlocks(
        [x, scale, offset, dy].map((t) => values(t)!),
        { a: values(upstream.a), b: values(upstream.b), e: values(upstream.e) },
        outputs,
      );
      return [
        cpu.makeTensorInfo([...x.shape], "float32", outputs[0]!),
        cpu.makeTensorInfo([...scale.shape], "float32", outputs[1]!),
        cpu.makeTensorInfo([...x.shape], "float32", outputs[2]!),
      ];
    }
    const wasm = backend as unknown as WasmHeapBackend;
    const outputs = [wasm.makeOutput([...x.shape], "float32"), wasm.makeOutput([...scale.shape], "float32"), wasm.makeOutput([...x.shape], "float32")] as const;
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
      nativeBatchNormGradGrad(wasm, native, offsets, x, rows, channels, epsilon, relu, groups);
      return [...outputs];
    }
    const simd = simdKernels(wasm);
    if (simd) {
      for (let g = 0; g < groups; g++) {
        const at = (t: TensorInfo, long: boolean) => shift(offsetOf(t), blocks, g, long);
        const optional = (t: TensorInfo | undefined, long: boolean) => (t ? at(t, long) : undefined);
        wasmBatchNormGradGrad(
          wasm,
          simd,
          { x: at(x, true), scale: at(scale, false), offset: at(offset, false), dy: at(dy, true), rows, channels, epsilon, relu },
          { a: optional(upstream.a, true), b: optional(upstream.b, false), e: optional(upstream.e, false) },
          { dX: at(outputs[0], true), dScale: at(outputs[1], false), dDy: at(outputs[2], true) },
        );
      }
      return [...outputs];
    }
    // Views are taken after the outputs are allocated (which may grow the heap).
    const buffer = wasm.wasm.HEAP32.buffer;
    const view = (t: TensorInfo, length: number) => new Float32Array(buffer, offsetOf(t), length);
    gradGradBlocks(
      [view(x, size), view(scale, perChannel), view(offset, perChannel), view(dy, size)],
      {
        a: upstream.a ? view(upstream.a, size) : undefined,
        b: upstream.b ? view(upstream.b, perChannel) : undefined,
        e: upstream.e ? view(upstream.e, perChannel) : undefined,
      },
      [view(outputs[0], size), view(outputs[1], perChannel), view(outputs[2], size)],
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
