import { encode } from "fast-png";
import jpeg from "jpeg-js";
import { ConcordError } from "@concord/core";
import { describe, expect, it } from "vitest";
import { decodeImage } from "./decode-image.js";

const f = Math.fround;

describe("decodeImage", () => {
  it("reads 8-bit grey PNGs as v / 255 and repeats grey into RGB", () => {
    const png = encode({ width: 2, height: 1, channels: 1, depth: 8, data: Uint8Array.from([0, 51]) });
    const grey = decodeImage(png, "a.png", 1);
    expect([grey.height, grey.width, grey.channels]).toEqual([1, 2, 1]);
    expect(Array.from(grey.pixels)).toEqual([0, f(0.2)]);
    expect(Array.from(decodeImage(png, "a.png", 3).pixels)).toEqual([0, 0, 0, f(0.2), f(0.2), f(0.2)]);
  });

  it("unpacks 1-bit rows padded to whole bytes (Omniglot's format)", () => {
    // 10 pixels per row → 2 bytes per row; row 0 = 1000000001, row 1 = 0111111110.
    const png = encode({ width: 10, height: 2, channels: 1, depth: 1, data: Uint8Array.from([0b10000000, 0b01000000, 0b01111111, 0b10000000]) });
    expect(Array.from(decodeImage(png, "a.png", 1).pixels)).toEqual([1, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 1, 1, 1, 1, 1, 1, 1, 1, 0]);
  });

  it("scales 16-bit PNGs by 65535", () => {
    const png = encode({ width: 2, height: 1, channels: 1, depth: 16, data: Uint16Array.from([65535, 13107]) as unknown as Uint8Array });
    expect(Array.from(decodeImage(png, "a.png", 1).pixels)).toEqual([1, f(0.2)]);
  });

  it("turns RGB(A) into grey with ITU-R 601 luma and drops alpha", () => {
    const rgba = encode({ width: 2, height: 1, channels: 4, depth: 8, data: Uint8Array.from([255, 0, 0, 10, 0, 0, 255, 255]) });
    expect(Array.from(decodeImage(rgba, "a.png", 1).pixels)).toEqual([f(0.299), f(0.114)]);
    expect(Array.from(decodeImage(rgba, "a.png", 3).pixels)).toEqual([1, 0, 0, 0, 0, 1]);
  });

  it("reads palette PNGs through their palette", () => {
    const png = encode({
      width: 2,
      height: 1,
      channels: 1,
      depth: 8,
      data: Uint8Array.from([1, 0]),
      palette: [
        [0, 0, 0],
        [0, 255, 0],
      ],
    });
    expect(Array.from(decodeImage(png, "a.png", 3).pixels)).toEqual([0, 1, 0, 0, 0, 0]);
  });

  it("reads JPEGs (lossy: close to the encoded colour)", () => {
    const data = new Uint8Array(8 * 8 * 4);
    for (let i = 0; i < 64; i++) data.set([200, 100, 50, 255], i * 4);
    const file = jpeg.encode({ width: 8, height: 8, data }, 95).data;
    const rgb = decodeImage(file, "a.jpg", 3);
    expect([rgb.height, rgb.width]).toEqual([8, 8]);
    expect(rgb.pixels[0]).toBeCloseTo(200 / 255, 1);
    expect(rgb.pixels[1]).toBeCloseTo(100 / 255, 1);
    expect(rgb.pixels[2]).toBeCloseTo(50 / 255, 1);
  });

  it("names the file when the bytes are not a readable image", () => {
    const png = encode({ width: 4, height: 4, channels: 1, depth: 8, data: new Uint8Array(16) });
    const truncated = png.subarray(0, png.length - 20);
    const corrupted = Uint8Array.from(png);
    corrupted[45] = corrupted[45]! ^ 0xff; // inside IDAT's data (IDAT starts at byte 33): the CRC check fails
    for (const [bytes, name] of [
      [truncated, "dir/truncated.png"],
      [corrupted, "dir/corrupted.png"],
      [new TextEncoder().encode("not an image at all"), "dir/text.png"],
    ] as const) {
      let caught: unknown;
      try {
        decodeImage(bytes, name, 1);
      } catch (error) {
        caught = error;
      }
      expect(caught).toBeInstanceOf(ConcordError);
      expect((caught as ConcordError).field).toBe(name);
      expect((caught as ConcordError).message).toContain("cannot decode image");
    }
  });
});
