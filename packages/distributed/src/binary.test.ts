import { ConcordError } from "@concord/core";
import { describe, expect, it } from "vitest";
import { pack, unpack } from "./binary.js";

describe("pack / unpack: tensors over Redis as raw bytes", () => {
  it("round-trips float32 bit for bit (NaN, −0, subnormals, extremes), int32 and bool, inside any JSON", () => {
    const special = new Float32Array([Number.NaN, -0, 1e-45, 3.4028234663852886e38, -1.5, Math.fround(0.1)]);
    const value = {
      params: [["layer0/weight", { shape: [2, 3], dtype: "float32", data: special }]],
      labels: { shape: [3], dtype: "int32", data: new Int32Array([-7, 0, 2 ** 31 - 1]) },
      mask: { shape: [2], dtype: "bool", data: new Uint8Array([1, 0]) },
      indices: [4, 5],
      note: "kept",
    };
    const back = unpack<typeof value>(pack(value));
    const weight = back.params[0]![1] as { data: Float32Array; shape: number[]; dtype: string };
    expect(weight.shape).toEqual([2, 3]);
    expect(new Uint32Array(weight.data.buffer)).toEqual(new Uint32Array(special.buffer));
    expect(Array.from(back.labels.data)).toEqual([-7, 0, 2 ** 31 - 1]);
    expect(back.labels.data).toBeInstanceOf(Int32Array);
    expect(Array.from(back.mask.data)).toEqual([1, 0]);
    expect(back.indices).toEqual([4, 5]);
    expect(back.note).toBe("kept");
  });

  it("sends float32 as 4 bytes per number plus a small header", () => {
    const data = new Float32Array(10_000);
    const bytes = pack([{ shape: [10_000], dtype: "float32", data }]).byteLength;
    expect(bytes).toBeGreaterThanOrEqual(40_000);
    expect(bytes).toBeLessThan(40_000 + 200);
  });

  it("refuses foreign or damaged payloads with a ConcordError naming the field", () => {
    expect(() => unpack(Buffer.from("not a payload"), "theta")).toThrow(ConcordError);
    expect(() => unpack(Buffer.from("not a payload"), "theta")).toThrow(/theta: expected a packed Concord payload/);
    const good = pack({ t: { shape: [4], dtype: "float32", data: new Float32Array(4) } });
    expect(() => unpack(good.subarray(0, good.byteLength - 4), "result")).toThrow(/result: the packed payload's tensors do not fit its bytes/);
    expect(() => pack({ t: { shape: [1], dtype: "complex64", data: new Float32Array(2) } })).toThrow(/cannot send a complex64 tensor/);
  });

  /** Rewrites a packed payload's header (the tensor bytes stay), as a forger with Redis access could. */
  function withHeader(packed: Buffer, edit: (header: { skeleton: string; entries: Record<string, unknown>[] }) => void, extraBytes = 0): Buffer {
    const length = packed.readUInt32LE(4);
    const header = JSON.parse(packed.subarray(8, 8 + length).toString("utf8"));
    const tensorBytes = packed.subarray(8 + ((length + 3) & ~3));
    edit(header);
    const text = Buffer.from(JSON.stringify(header), "utf8");
    const out = Buffer.alloc(8 + ((text.byteLength + 3) & ~3) + tensorBytes.byteLength + extraBytes);
    out.writeUInt32LE(packed.readUInt32LE(0), 0);
    out.writeUInt32LE(text.byteLength, 4);
    text.copy(out, 8);
    tensorBytes.copy(out, 8 + ((text.byteLength + 3) & ~3));
    return out;
  }

  it("refuses forged layouts: overlapping or negative offsets, inherited dtypes, bad shapes, stray bytes, tensors used twice or never", () => {
    const two = pack({
      a: { shape: [2], dtype: "float32", data: new Float32Array([1, 2]) },
      b: { shape: [2], dtype: "float32", data: new Float32Array([3, 4]) },
    });
    expect(Object.keys(unpack<Record<string, unknown>>(withHeader(two, () => {})))).toEqual(["a", "b"]);
    const cases: [(header: { skeleton: string; entries: Record<string, unknown>[] }) => void, RegExp, number?][] = [
      [
        (h) => {
          h.entries[1]!.offset = 0;
        },
        /tensor 1 starts at byte 0, expected 8/,
      ],
      [
        (h) => {
          h.entries[0]!.offset = -8;
        },
        /tensor 0 starts at byte -8, expected 0/,
      ],
      [
        (h) => {
          h.entries[0]!.offset = 1.5;
        },
        /tensor 0 starts at byte 1\.5/,
      ],
      [
        (h) => {
          h.entries[0]!.dtype = "constructor";
        },
        /tensor 0 has dtype "constructor"/,
      ],
      [
        (h) => {
          h.entries[0]!.dtype = "toString";
        },
        /tensor 0 has dtype "toString"/,
      ],
      [
        (h) => {
          h.entries[0]!.shape = [-1, -2];
        },
        /tensor 0 has shape \[-1,-2\]/,
      ],
      [
        (h) => {
          h.entries[0]!.shape = [1];
        },
        /tensor 0 has length 2, its shape \[1\] says 1/,
      ],
      [
        (h) => {
          h.entries = "x" as never;
        },
        /header is not \{ skeleton, entries \}/,
      ],
      [
        (h) => {
          h.skeleton = h.skeleton.replace('"$tensor":1', '"$tensor":0');
        },
        /refers to tensor 0 twice/,
      ],
      [
        (h) => {
          h.skeleton = JSON.stringify({ a: { $tensor: 0 } });
        },
        /holds 1 tensors nothing refers to/,
      ],
      [
        (h) => {
          h.skeleton = JSON.stringify({ a: { $tensor: "0" } });
        },
        /refers to a missing tensor/,
      ],
      [() => {}, /has 4 bytes its header does not account for/, 4],
    ];
    for (const [edit, reason, extra] of cases) {
      const forged = withHeader(two, edit, extra);
      expect(() => unpack(forged, "result of chunk 0"), String(reason)).toThrow(ConcordError);
      expect(() => unpack(forged, "result of chunk 0"), String(reason)).toThrow(reason);
    }
  });
});
