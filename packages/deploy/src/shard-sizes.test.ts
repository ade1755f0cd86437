import { describe, expect, it } from "vitest";
import { shardSizes } from "./shard-sizes.js";

// Hand-worked: a cut of T bytes into n shards of S (the last 1..S) needs ceil(T/n) ≤ S ≤ ceil(T/(n−1)) − 1.
describe("shardSizes", () => {
  it("one shard holds every byte", () => {
    const sizes = shardSizes(52, 1)!;
    expect(sizes.first).toEqual({ min: 52, max: 52 });
  });

  it("52 bytes in 4 shards: S from 13 (13,13,13,13) to 17 (17,17,17,1)", () => {
    const sizes = shardSizes(52, 4)!;
    expect(sizes.first).toEqual({ min: 13, max: 17 });
    expect([1, 2, 3].map((i) => sizes.later(16, i))).toEqual([16, 16, 4]);
    expect([1, 2, 3].map((i) => sizes.later(13, i))).toEqual([13, 13, 13]);
    expect([1, 2, 3].map((i) => sizes.later(17, i))).toEqual([17, 17, 1]);
  });

  it("what metaModelArtifacts writes is always inside the range", () => {
    for (const total of [4, 8, 52, 100, 4096, 449_044]) {
      for (const cut of [4, 8, 16, 4096]) {
        const count = Math.max(1, Math.ceil(total / cut));
        const sizes = shardSizes(total, count)!;
        const first = Math.min(total, cut);
        expect(first).toBeGreaterThanOrEqual(sizes.first.min);
        expect(first).toBeLessThanOrEqual(sizes.first.max);
        const rest = Array.from({ length: count - 1 }, (_, i) => sizes.later(first, i + 1));
        expect(first + rest.reduce((a, b) => a + b, 0)).toBe(total);
        expect(rest.slice(0, -1).every((size) => size === first)).toBe(true);
      }
    }
  });

  it("impossible cuts: 4 bytes in 3 shards, bytes in no shard, no bytes in two shards", () => {
    expect(shardSizes(4, 3)).toBeUndefined();
    expect(shardSizes(4, 0)).toBeUndefined();
    expect(shardSizes(0, 2)).toBeUndefined();
    expect(shardSizes(0, 1)!.first).toEqual({ min: 0, max: 0 });
  });
});
