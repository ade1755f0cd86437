import * as tf from "@tensorflow/tfjs-core";
import { kernelOwner, replaceKernel } from "../../registry-journal.js";
import { nativeKernels } from "../native-kernels.js";
import type { WasmHeapBackend } from "../simd-module.js";
import { type WasmEntryModule, wasmEntry, writeShapePair } from "../wasm-entry.js";
import { nativeAddBias } from "./native.js";

const OWNER = "fast:direct-binary";

/** The elementwise float kernels of the models and their gradients that tfjs-wasm runs through `createBinaryKernelConfig`. */
export const DIRECT_BINARY_KERNELS = ["Add", "Sub", "Multiply", "RealDiv", "SquaredDifference", "Maximum", "Minimum"] as const;

/** XNNPACK's highest tensor rank (XNN_MAX_TENSOR_DIMS); tfjs-wasm's kernels fail above it, so those go to them unchanged. */
const MAX_RANK = 6;

/** A wasm C entry point of tfjs-wasm's binary kernels: (aId, aShape*, aRank, bId, bShape*, bRank, dtype, outId). */
type BinaryEntry = (aId: number, aShape: number, aRank: number, bId: number, bShape: number, bRank: number, dtype: number, outId: number) => void;

interface WasmBackend {
  readonly wasm: WasmEntryModule;
  readonly dataIdMap: { get(dataId: object): { id: number; memoryOffset: number } | undefined };
  makeOutput(shape: number[], dtype: tf.DataType): tf.TensorInfo;
}

/**
 * Replaces tfjs-wasm's Add, Sub, Multiply, RealDiv, SquaredDifference, Maximum and Minimum for
 * float32 inputs by calls to the very same C functions without Emscripten's `ccall`: tfjs passes
 * both shapes as 'array' arguments, so every call allocates two typed arrays per shape, looks the
 * function up by name and copies the shapes onto the wasm stack. Here the shapes are written into a
 * fixed heap block and the export is called directly. The same C code computes every element, so
 * the results are bit-identical; other dtypes, empty outputs and ranks above 6 go to the original kernel.
 * While native kernels with `addBias` are installed, Add of a [..., C] tensor and a [C] bias is the
 * addon's loop (the same float32 sums).
 */
export function installDirectBinaryKernels(): boolean {
  if (DIRECT_BINARY_KERNELS.every((name) => kernelOwner(name, "wasm") === OWNER)) return true;
  let installed = false;
  for (const name of DIRECT_BINARY_KERNELS) {
    if (kernelOwner(name, "wasm") === OWNER) continue;
    const original = tf.getKernel(name, "wasm");
    if (!original) continue;
    const originalFunc = original.kernelFunc;
    const kernelFunc: tf.KernelFunc = (args) => directBinary(name, args) ?? (originalFunc(args) as tf.TensorInfo);
    replaceKernel({ ...original, kernelFunc }, OWNER);
    installed = true;
  }
  return installed || DIRECT_BINARY_KERNELS.some((name) => kernelOwner(name, "wasm") === OWNER);
}

/** Per wasm module: its binary-kernel entry points by kernel name (looked up once). */
const entriesByModule = new WeakMap<object, Map<string, BinaryEntry | undefined>>();

/**
 * The output of tfjs-wasm's binary kernel `name` (one of DIRECT_BINARY_KERNELS) computed by a direct
 * call, or undefined for a case left to the original kernel (not float32, empty, rank above 6).
 */
export function directBinary(name: (typeof DIRECT_BINARY_KERNELS)[number], { inputs, backend }: Parameters<tf.KernelFunc>[0]): tf.TensorInfo | undefined {
  const a = inputs["a"] as tf.TensorInfo | undefined;
  const b = inputs["b"] as tf.TensorInfo | undefined;
  if (!a || !b || a.dtype !== "float32" || b.dtype !== "float32" || a.shape.length > MAX_RANK || b.shape.length > MAX_RANK) return undefined;
  const wasmBackend = backend as unknown as WasmBackend;
  let entries = entriesByModule.get(wasmBackend.wasm);
  if (!entries) {
    entries = new Map();
    entriesByModule.set(wasmBackend.wasm, entries);
  }
  if (!entries.has(name)) entries.set(name, wasmEntry<BinaryEntry>(wasmBackend.wasm, name));
  const entry = entries.get(name);
  const aData = wasmBackend.dataIdMap.get(a.dataId);
  const bData = wasmBackend.dataIdMap.get(b.dataId);
  if (!entry || !aData || !bData) return undefined;
  const shape = tf.backend_util.assertAndGetBroadcastShape(a.shape, b.shape);
  if (tf.util.sizeFromShape(shape) === 0) return undefined;
  const out = wasmBackend.makeOutput(shape, "float32");
  const native = nativeKernels();
  const channels = b.shape.length === 1 ? b.shape[0]! : -1;
  if (name === "Add" && native?.addBias && a.shape.length >= 2 && a.shape[a.shape.length - 1] === channels) {
    nativeAddBias(
      backend as unknown as WasmHeapBackend,
      native,
      a,
      aData.memoryOffset,
      bData.memoryOffset,
      wasmBackend.dataIdMap.get(out.dataId)!.memoryOffset,
      channels,
    );
    return out;
  }
  const [aShape, bShape] = writeShapePair(wasmBackend.wasm, a.shape, b.shape);
  const FLOAT32 = 0; // tfjs-wasm's CppDType.float32
  entry(aData.id, aShape, a.shape.length, bData.id, bShape, b.shape.length, FLOAT32, wasmBackend.dataIdMap.get(out.dataId)!.id);
  return out;
}
