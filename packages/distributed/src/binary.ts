// Tensors over Redis as raw bytes: a JSON skeleton with every tensor replaced by an index, followed by
// the tensors' bytes (float32 stays float32, bit for bit; no base64, no text formatting of numbers).
import { ConcordError } from "@concord/core";
import type { WireTensor } from "@concord/algorithms/node";

const MAGIC = 0x43_4e_44_31; // "CND1"
const ARRAYS = { float32: Float32Array, int32: Int32Array, bool: Uint8Array } as const;
type PackedDtype = keyof typeof ARRAYS;

interface TensorEntry {
  readonly dtype: PackedDtype;
  readonly shape: number[];
  readonly offset: number;
  readonly length: number;
}

function isWireTensor(value: unknown): value is WireTensor {
  return typeof value === "object" && value !== null && ArrayBuffer.isView((value as WireTensor).data) && Array.isArray((value as WireTensor).shape);
}

/**
 * Packs a JSON-like value whose leaves may be WireTensors into one buffer:
 * [u32 magic][u32 header bytes][header JSON][pad to 4][tensor bytes, each 4-aligned].
 */
export function pack(value: unknown): Buffer {
  const tensors: WireTensor[] = [];
  const entries: TensorEntry[] = [];
  let offset = 0;
  const skeleton = JSON.stringify(value, (_key, item: unknown) => {
    if (!isWireTensor(item)) return item;
    if (!(item.dtype in ARRAYS)) throw new ConcordError(`cannot send a ${item.dtype} tensor`, { field: "tensor" });
    entries.push({ dtype: item.dtype as PackedDtype, shape: [...item.shape], offset, length: item.data.length });
    offset += align4(item.data.byteLength);
    tensors.push(item);
    return { $tensor: entries.length - 1 };
  });
  const header = Buffer.from(JSON.stringify({ skeleton, entries }), "utf8");
  const start = 8 + align4(header.byteLength);
  const out = Buffer.alloc(start + offset);
  out.writeUInt32LE(MAGIC, 0);
  out.writeUInt32LE(header.byteLength, 4);
  header.copy(out, 8);
  tensors.forEach((tensor, i) => {
    const bytes = new Uint8Array(tensor.data.buffer, tensor.data.byteOffset, tensor.data.byteLength);
    out.set(bytes, start + entries[i]!.offset);
  });
  return out;
}

/**
 * The inverse of `pack`; tensors come back as fresh typed arrays (owning their buffers). The layout
 * must be exactly what `pack` writes: every tensor's offset where the previous one ended (4-aligned),
 * no bytes after the last, each tensor referred to once; anything else is refused, so a damaged or
 * forged payload cannot make one tensor read another's bytes or the header's.
 */
export function unpack<T>(buffer: Buffer, field = "payload"): T {
  if (buffer.byteLength < 8 || buffer.readUInt32LE(0) !== MAGIC) throw new ConcordError("expected a packed Concord payload", { field });
  const headerLength = buffer.readUInt32LE(4);
  const start = 8 + align4(headerLength);
  if (start > buffer.byteLength) throw new ConcordError("the packed payload is truncated", { field });
  let header: { skeleton?: unknown; entries?: unknown };
  try {
    header = JSON.parse(buffer.subarray(8, 8 + headerLength).toString("utf8"));
  } catch {
    throw new ConcordError("the packed payload's header is not JSON", { field });
  }
  if (typeof header !== "object" || header === null || typeof header.skeleton !== "string" || !Array.isArray(header.entries)) {
    throw new ConcordError("the packed payload's header is not { skeleton, entries }", { field });
  }
  let expectedOffset = 0;
  const tensors = header.entries.map((raw: unknown, index: number) => {
    const entry = checkEntry(raw, index, expectedOffset, field);
    const Array_ = ARRAYS[entry.dtype];
    const bytes = entry.length * Array_.BYTES_PER_ELEMENT;
    const begin = start + entry.offset;
    if (begin + bytes > buffer.byteLength) throw new ConcordError("the packed payload's tensors do not fit its bytes", { field });
    expectedOffset += align4(bytes);
    const copy = new Uint8Array(bytes);
    copy.set(buffer.subarray(begin, begin + bytes));
    return { shape: entry.shape, dtype: entry.dtype, data: new Array_(copy.buffer) } satisfies WireTensor;
  });
  if (start + expectedOffset !== buffer.byteLength) {
    throw new ConcordError(`the packed payload has ${buffer.byteLength - start - expectedOffset} bytes its header does not account for`, { field });
  }
  const used = new Set<number>();
  const value = JSON.parse(header.skeleton, (_key, item: unknown) => {
    if (typeof item === "object" && item !== null && "$tensor" in item) {
      const index = (item as { $tensor: unknown }).$tensor;
      const tensor = Number.isSafeInteger(index) ? tensors[index as number] : undefined;
      if (!tensor) throw new ConcordError("the packed payload refers to a missing tensor", { field });
      if (used.has(index as number)) throw new ConcordError(`the packed payload refers to tensor ${index} twice`, { field });
      used.add(index as number);
      return tensor;
    }
    return item;
  }) as T;
  if (used.size !== tensors.length) throw new ConcordError(`the packed payload holds ${tensors.length - used.size} tensors nothing refers to`, { field });
  return value;
}

/** One header entry, checked: a known dtype, a shape of non-negative integers, its length, and its offset where `pack` puts it. */
function checkEntry(raw: unknown, index: number, expectedOffset: number, field: string): TensorEntry {
  const entry = raw as Partial<TensorEntry> | null;
  const bad = (what: string) => new ConcordError(`the packed payload's tensor ${index} ${what}`, { field });
  if (typeof entry !== "object" || entry === null) throw bad("is not an object");
  if (typeof entry.dtype !== "string" || !Object.hasOwn(ARRAYS, entry.dtype))
    throw bad(`has dtype ${JSON.stringify(entry.dtype)}, expected one of ${Object.keys(ARRAYS).join(", ")}`);
  if (!Array.isArray(entry.shape) || !entry.shape.every((size) => Number.isSafeInteger(size) && size >= 0))
    throw bad(`has shape ${JSON.stringify(entry.shape)}`);
  if (!Number.isSafeInteger(entry.length) || entry.shape.reduce((a, b) => a * b, 1) !== entry.length) {
    throw bad(`has length ${JSON.stringify(entry.length)}, its shape ${JSON.stringify(entry.shape)} says ${entry.shape.reduce((a, b) => a * b, 1)}`);
  }
  if (entry.offset !== expectedOffset) throw bad(`starts at byte ${JSON.stringify(entry.offset)}, expected ${expectedOffset}`);
  return entry as TensorEntry;
}

function align4(bytes: number): number {
  return (bytes + 3) & ~3;
}
