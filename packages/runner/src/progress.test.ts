import { describe, expect, it } from "vitest";
import { createProgress, formatSeconds } from "./progress.js";

function fakeStream(isTTY: boolean) {
  const chunks: string[] = [];
  return { chunks, stream: { isTTY, write: (chunk: string) => chunks.push(chunk) } as unknown as NodeJS.WriteStream };
}

describe("createProgress", () => {
  it("prints plain lines every `every` iterations and at the end when the stream is not a terminal", () => {
    const { chunks, stream } = fakeStream(false);
    const progress = createProgress({ label: "run", start: 0, total: 25, every: 10, stream });
    for (let i = 1; i <= 25; i++) progress.update(i, 0.5);
    progress.stop();
    expect(chunks).toHaveLength(3);
    expect(chunks[0]).toMatch(/^run: iteration 10\/25 \(40%\), [\d.]+ it\/s, ETA \S+, meta-loss 0\.5000\n$/);
    expect(chunks[2]).toMatch(/^run: iteration 25\/25 \(100%\)/);
  });

  it("prints nothing in mode none", () => {
    const { chunks, stream } = fakeStream(true);
    const progress = createProgress({ mode: "none", label: "run", start: 0, total: 5, every: 1, stream });
    progress.update(5, 1);
    progress.stop();
    expect(chunks).toEqual([]);
  });

  it("formats durations", () => {
    expect([formatSeconds(4.2), formatSeconds(75), formatSeconds(3 * 3600 + 120), formatSeconds(Number.NaN)]).toEqual(["4s", "1m15s", "3h02m", "?"]);
  });
});
