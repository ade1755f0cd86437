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
});
