// Direct calls of tfjs-wasm's exported C kernels, without Emscripten's ccall.

/** Highest rank a shape argument may have here (tfjs tensors rarely exceed 6). */
export const MAX_ENTRY_RANK = 8;

/** The parts of tfjs-wasm's Emscripten module used to call its kernels directly. */
export interface WasmEntryModule {
  readonly HEAP32: Int32Array;
  _malloc(bytes: number): number;
}

/** Per module: a heap block holding two shapes of up to MAX_ENTRY_RANK int32s, allocated once and never freed (64 bytes). */
const scratchByModule = new WeakMap<WasmEntryModule, number>();

/**
 * tfjs-wasm's C kernels take each shape as a pointer to int32s in the heap, which tfjs's cwrap
 * ('array' arguments) copies onto the wasm stack through two fresh typed arrays per shape on every
 * call. This writes both shapes into a fixed heap block instead and returns their pointers. Call it
 * after the output is allocated (an allocation may grow the heap, which replaces HEAP32); the
 * pointers stay valid until the next call. Shapes must have at most MAX_ENTRY_RANK dimensions.
 */
export function writeShapePair(module: WasmEntryModule, first: readonly number[], second: readonly number[]): readonly [number, number] {
  if (first.length > MAX_ENTRY_RANK || second.length > MAX_ENTRY_RANK)
    throw new Error(`Concord: shapes of rank above ${MAX_ENTRY_RANK} cannot be passed directly`);
  let scratch = scratchByModule.get(module);
  if (scratch === undefined) {
    scratch = module._malloc(2 * MAX_ENTRY_RANK * 4) >>> 0;
    scratchByModule.set(module, scratch);
  }
  const heap = module.HEAP32;
  const firstIndex = scratch >>> 2;
  const secondIndex = firstIndex + MAX_ENTRY_RANK;
  for (let i = 0; i < first.length; i++) heap[firstIndex + i] = first[i]!;
  for (let i = 0; i < second.length; i++) heap[secondIndex + i] = second[i]!;
  return [scratch, scratch + MAX_ENTRY_RANK * 4];
}

/** The exported C function `name` of tfjs-wasm's module (Module["_" + name]), if it exists. */
export function wasmEntry<F extends (...args: number[]) => void>(module: object, name: string): F | undefined {
  const entry = (module as Record<string, unknown>)[`_${name}`];
  return typeof entry === "function" ? (entry as F) : undefined;
}
