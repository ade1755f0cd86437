import * as tf from "@tensorflow/tfjs-core";
import { kernelOwner, replaceKernel } from "../../registry-journal.js";

/** The parts of the wasm and cpu backend objects this kernel uses (stable across tfjs 4.x). */
interface WasmBackend {
  readonly wasm: { readonly HEAP32: Int32Array };
  readonly dataIdMap: { get(dataId: object): { memoryOffset: number } | undefined };
  makeOutput(shape: number[], dtype: tf.DataType): tf.TensorInfo;
}
interface CpuBackend {
  readonly data: { get(dataId: object): { values?: unknown } | undefined };
  makeTensorInfo(shape: number[], dtype: tf.DataType, values: tf.TypedArray): tf.TensorInfo;
}

const OWNER = "fast:tile";

/**
 * Replaces the Tile kernel (behind tf.tile and tf.broadcastTo) of the wasm and cpu backends with
 * block copies. Both backends compute every output element from its coordinates; tiling a
 * [1, 40, 40] weight 25 times took about 6 ms on wasm and 2 ms on cpu, and batched meta-learning
 * tiles θ and broadcasts gradients every step. Same values (a copy); the gradient of Tile is
 * unchanged. Only 4-byte dtypes (float32, int32); other cases go to the original kernel.
 */
export function installFastTile(): boolean {
  let any = false;
  for (const backendName of ["wasm", "cpu"] as const) {
    if (kernelOwner("Tile", backendName) === OWNER) {
      any = true;
      continue;
    }
    const original = tf.getKernel("Tile", backendName);
    if (!original) continue;
    const originalFunc = original.kernelFunc;
    const fast = backendName === "wasm" ? wasmTile : cpuTile;
    const kernelFunc: tf.KernelFunc = (args) => fast(args) ?? (originalFunc(args) as tf.TensorInfo);
    replaceKernel({ ...original, kernelFunc }, OWNER);
    any = true;
  }
  return any;
}

type KernelArgs = Parameters<tf.KernelFunc>[0];

function plan({ inputs, attrs }: KernelArgs): { x: tf.TensorInfo; reps: number[]; outShape: number[] } | undefined {
  const x = inputs["x"] as tf.TensorInfo;
  const reps = attrs?.["reps"] as number[] | undefined;
  if (!reps || reps.length !== x.shape.length || (x.dtype !== "float32" && x.dtype !== "int32")) return undefined;
  const outShape = x.shape.map((size, i) => size * reps[i]!);
  if (outShape.some((size) => size === 0) || x.shape.length === 0) return undefined;
  return { x, reps, outShape };
}

function wasmTile(args: KernelArgs): tf.TensorInfo | undefined {
  const p = plan(args);
  if (!p) return undefined;
  const backend = args.backend as unknown as WasmBackend;
  const source = backend.dataIdMap.get(p.x.dataId)?.memoryOffset;
  if (source === undefined) return undefined;
  const out = backend.makeOutput(p.outShape, p.x.dtype);
  const target = backend.dataIdMap.get(out.dataId)!.memoryOffset;
  // The heap view is read after makeOutput, which may have grown the memory.
  const heap = backend.wasm.HEAP32;
  tileInto(heap, source / 4, heap, target / 4, p.x.shape, p.reps);
  return out;
}

function cpuTile(args: KernelArgs): tf.TensorInfo | undefined {
  const p = plan(args);
  if (!p) return undefined;
  const backend = args.backend as unknown as CpuBackend;
  const values = backend.data.get(p.x.dataId)?.values;
  if (!(values instanceof Float32Array || values instanceof Int32Array)) return undefined;
  const out = values instanceof Float32Array ? new Float32Array(sizeOf(p.outShape)) : new Int32Array(sizeOf(p.outShape));
  tileInto(values, 0, out, 0, p.x.shape, p.reps);
  return backend.makeTensorInfo(p.outShape, p.x.dtype, out);
}

/**
 * out[i₀, …] = x[i₀ mod s₀, …] for row-major x of `shape` at `source` and out at `target`: each
 * dimension's first copy is built from the next dimension's, then repeated with copyWithin.
 */
export function tileInto<T extends Float32Array | Int32Array>(
  from: T,
  source: number,
  to: T,
  target: number,
  shape: readonly number[],
  reps: readonly number[],
): void {
  const rank = shape.length;
  const outStrides = new Array<number>(rank);
  const inStrides = new Array<number>(rank);
  let outStride = 1;
  let inStride = 1;
  for (let d = rank - 1; d >= 0; d--) {
    outStrides[d] = outStride;
    inStrides[d] = inStride;
    outStride *= shape[d]! * reps[d]!;
    inStride *= shape[d]!;
  }
  const fill = (d: number, from0: number, to0: number): void => {
    const block = shape[d]! * outStrides[d]!;
    if (d === rank - 1) {
      to.set(from.subarray(from0, from0 + shape[d]!), to0);
    } else {
      for (let i = 0; i < shape[d]!; i++) fill(d + 1, from0 + i * inStrides[d]!, to0 + i * outStrides[d]!);
    }
    for (let r = 1; r < reps[d]!; r++) to.copyWithin(to0 + r * block, to0, to0 + block);
  };
  fill(0, source, target);
}

function sizeOf(shape: readonly number[]): number {
  return shape.reduce((product, size) => product * size, 1);
}
