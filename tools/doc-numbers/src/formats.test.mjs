import { describe, expect, it } from "vitest";
import { formatValue, parseFormat } from "./formats.mjs";

const format = (value, spec) => formatValue(value, parseFormat(spec));

describe("formats (hand-worked values)", () => {
  it("fixed and percent round half away as toFixed does, with U+2212 for a minus", () => {
    expect(format(0.12431219, "fixed4")).toBe("0.1243");
    expect(format(0.9686666685342789, "pct2")).toBe("96.87");
    expect(format(-0.0012899, "fixed3")).toBe("\u22120.001");
    expect(format(-0.09425, "fixed2")).toBe("\u22120.09");
  });
  it("a value that rounds to zero carries no sign", () => {
    expect(format(-0.0004, "fixed3")).toBe("0.000");
    expect(format(0.0001, "pct1 signed")).toBe("0.0");
  });
  it("signed puts + before positive values only", () => {
    expect(format(0.0106666, "pct2 signed")).toBe("+1.07");
    expect(format(-0.0056666, "pct2 signed")).toBe("\u22120.57");
  });
  it("ci writes mean ± ci95 with the same digits, the interval never signed", () => {
    expect(format({ mean: 0.9686666685342789, ci95: 0.006644940586389368 }, "pct2 ci")).toBe("96.87 ± 0.66");
    expect(format({ mean: -0.002, ci95: 0.0106 }, "pct2 signed ci")).toBe("\u22120.20 ± 1.06");
    expect(() => format(0.5, "pct2 ci")).toThrow(/mean and ci95/);
  });
  it("int rounds and spaces thousands", () => {
    expect(format(1314.56, "int")).toBe("1 315");
    expect(format(774.86, "int")).toBe("775");
    expect(format(3701, "int")).toBe("3 701");
    expect(format(20000, "int")).toBe("20 000");
  });
  it("sig keeps N significant digits", () => {
    expect(format(0.00041234, "sig2")).toBe("0.00041");
    expect(format(24.654951, "sig3")).toBe("24.7");
    expect(format(0.0999, "sig2")).toBe("0.10");
    expect(format(1817.524, "sig3")).toBe("1 820");
    expect(format(637.618, "sig2")).toBe("640");
  });
  it("spaces the integer part of any kind by thousands", () => {
    expect(format(1314.5623, "fixed1")).toBe("1 314.6");
    expect(format(-12345.6, "fixed0")).toBe("\u221212 346");
  });
  it("range writes min–max of a list, or one value when both ends round alike", () => {
    expect(format([7.9748, 7.9765, 7.9702], "fixed2 range")).toBe("7.97–7.98");
    expect(format([7.9912, 7.9874, 7.9895], "fixed2 range")).toBe("7.99");
    expect(() => format([7.9, "x"], "fixed2 range")).toThrow(/finite number/);
  });
  it("a list without range is refused, naming what to use", () => {
    expect(() => format([1, 2], "fixed2")).toThrow(/mean\(\), min\(\), max\(\) or the range format/);
  });
  it("text writes a string of the record as it is, and only a string", () => {
    expect(format("18001–20000", "text")).toBe("18001–20000");
    expect(() => format(3, "text")).toThrow(/expects a string/);
  });
  it("unknown kinds and flags are refused", () => {
    expect(() => parseFormat("percent2")).toThrow(/unknown format "percent2"/);
    expect(() => parseFormat("pct2 bold")).toThrow(/unknown format flag "bold"/);
    expect(() => parseFormat("pct2 ci range")).toThrow(/not both/);
  });
});
