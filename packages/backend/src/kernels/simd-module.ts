import type * as tf from "@tensorflow/tfjs-core";
import { GEMM_WASM_BASE64 } from "./gemm-wasm.js";
import type { WindowGeometry } from "./window-geometry.js";

/** The WebAssembly API (the project's TypeScript lib has no DOM types). */
interface WasmMemory {
  readonly buffer: ArrayBuffer;
}
interface WasmApi {
  readonly Memory: new (descriptor: { initial: number }) => WasmMemory;
  readonly Module: new (bytes: Uint8Array) => object;
  readonly Instance: new (module: object, imports: object) => { readonly exports: object };
}
const wasmApi = (globalThis as { WebAssembly?: WasmApi }).WebAssembly;

/** The parts of tfjs-backend-wasm's backend object Concord's kernels use (stable across 4.x). */
export interface WasmHeapBackend {
  readonly wasm: {
    readonly asm: { readonly memory: WasmMemory };
    readonly HEAP32: Int32Array;
    _malloc(bytes: number): number;
    _free(pointer: number): void;
  };
  readonly dataIdMap: { get(dataId: object): { memoryOffset: number } | undefined };
  makeOutput(shape: number[], dtype: tf.DataType): tf.TensorInfo;
  disposeData(dataId: object): void;
}

/** The functions of gemm.wat; pointers are byte offsets into the tfjs heap. */
export interface SimdKernels {
  gemm(a: number, b: number, c: number, m: number, k: number, n: number, strideAi: number, strideAk: number): void;
  transpose(source: number, target: number, rows: number, cols: number): void;
  column_sums(source: number, target: number, rows: number, cols: number, scale: number): void;
  /** The native im2col's (conv2d-im2col/contract.ts) without the heap buffer. */
  im2col(x: number, out: number, ...geometry: WindowGeometry): void;
  flip_filter(filter: number, out: number, kh: number, kw: number, cin: number, cout: number): void;
  /** For each pooled element, the flat index in x of its window's first maximum, or −1 (max-pool-route/fast.ts); `best` is scratch for one window's channels. */
  max_pool_positions(x: number, positions: number, best: number, ...geometry: WindowGeometry): void;
  /** ConcordMaxPoolRoute from max_pool_positions: out (size floats) zeroed, each window's value added at its maximum's index. */
  max_pool_route(positions: number, values: number, out: number, windows: number, size: number): void;
  /** ConcordMaxPoolGather from max_pool_positions: out[w] = the value at window w's maximum, +0 for an all-padding window. */
  max_pool_gather(positions: number, values: number, out: number, windows: number): void;
  /** ConcordSgdStep (sgd-step/reference.ts): out = param − grad·lr over size floats, each operation in float32. */
  sgd_step(param: number, grad: number, out: number, size: number, lr: number): void;
  /** Batch norm (batch-norm/wasm.ts): per-channel float64 sums of x − x[0] and its square, added to sum and squares. */
  bn_moments(x: number, rows: number, channels: number, sum: number, squares: number): void;
  /** y = x·a + b (a, b float64 per channel), masked to z > 0 when relu is 1. */
  bn_forward(x: number, y: number, a: number, b: number, rows: number, channels: number, relu: number): void;
  /** Adds Σg and Σg·x per channel to sumG and sumGX (float64), g = dy masked by x·a + b > 0 when relu is 1. */
  bn_sums(x: number, dy: number, a: number, b: number, rows: number, channels: number, relu: number, sumG: number, sumGX: number): void;
  /** dx = g·k1 + x·k2 + k3 (k float64 per channel), g as in bn_sums. */
  bn_dx(x: number, dy: number, a: number, b: number, k1: number, k2: number, k3: number, dx: number, rows: number, channels: number, relu: number): void;
  /**
   * ConcordBatchNormGradGrad's sums: adds Σg, Σg·x̂ and (hasA ≠ 0) Σu, Σu·x̂, Σu·g per channel (float64),
   * x̂ = (x − mean)·inv, g as in bn_sums, u the upstream at `up`.
   */
  bn2_sums(
    x: number,
    dy: number,
    up: number,
    hasA: number,
    mean: number,
    inv: number,
    a: number,
    b: number,
    rows: number,
    channels: number,
    relu: number,
    sumG: number,
    sumGX: number,
    sumA: number,
    sumAX: number,
    sumAG: number,
  ): void;
  /** ConcordBatchNormGradGrad's outputs: dX = g·k1 + x̂·k2 + u·k3 + k4, dDy = mask·(u·l1 + x̂·l2 + l3) (u terms when hasA ≠ 0). */
  bn2_outputs(
    x: number,
    dy: number,
    up: number,
    hasA: number,
    mean: number,
    inv: number,
    a: number,
    b: number,
    k1: number,
    k2: number,
    k3: number,
    k4: number,
    l1: number,
    l2: number,
    l3: number,
    dX: number,
    dDy: number,
    rows: number,
    channels: number,
    relu: number,
  ): void;
}

const instances = new WeakMap<WasmMemory, SimdKernels>();

/** gemm.wat instantiated on the backend's own memory (once per memory), or undefined if unavailable. */
export function simdKernels(backend: WasmHeapBackend): SimdKernels | undefined {
  const memory = backend.wasm?.asm?.memory;
  if (!wasmApi || !(memory instanceof wasmApi.Memory)) return undefined;
  let kernels = instances.get(memory);
  if (!kernels) {
    const bytes = Uint8Array.from(atob(GEMM_WASM_BASE64), (char) => char.charCodeAt(0));
    kernels = new wasmApi.Instance(new wasmApi.Module(bytes), { env: { memory } }).exports as unknown as SimdKernels;
    instances.set(memory, kernels);
  }
  return kernels;
}
