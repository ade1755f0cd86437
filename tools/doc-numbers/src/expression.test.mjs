import { describe, expect, it } from "vitest";
import { expandBraces } from "./braces.mjs";
import { evaluateExpression, parseExpression, recordFiles } from "./expression.mjs";
import { valueAtPath } from "./json-path.mjs";

const records = {
  "r/seed-0/e.json": { accuracy: [{ mean: 0.2 }, { mean: 0.944 }], runs: { "maml+agreement seed-0": { late: 7.99 } } },
  "r/seed-1/e.json": { accuracy: [{ mean: 0.2 }, { mean: 0.9476666 }], runs: { "maml+agreement seed-0": { late: 7.98 } } },
  "r/seed-2/e.json": { accuracy: [{ mean: 0.2 }, { mean: 0.9453333 }], runs: {} },
};
const readRecord = (file) => {
  if (!(file in records)) throw new Error(`record ${file} cannot be read (ENOENT)`);
  return records[file];
};
const evaluate = (text, aliases) => evaluateExpression(parseExpression(text), readRecord, aliases);

describe("JSON paths", () => {
  it("walk keys with spaces and + and array indices", () => {
    expect(valueAtPath(records["r/seed-0/e.json"], "runs.maml+agreement seed-0.late")).toBe(7.99);
    expect(valueAtPath(records["r/seed-0/e.json"], "accuracy[1].mean")).toBe(0.944);
  });
  it("name the first missing step and what is there instead", () => {
    expect(() => valueAtPath(records["r/seed-0/e.json"], "accuracy[3].mean")).toThrow('no "accuracy[3]": "accuracy" holds an array of 2');
    expect(() => valueAtPath(records["r/seed-0/e.json"], "loss")).toThrow(/no "loss": the record's top level holds keys "accuracy", "runs"/);
  });
});

describe("selectors", () => {
  const bench = {
    rows: [
      { workload: "a", backend: "wasm", ms: 1 },
      { workload: "a", backend: "native", ms: 2 },
      { workload: "b", backend: "native", ms: 3 },
    ],
  };
  it("pick the one array element with the given key values", () => {
    expect(valueAtPath(bench, "rows[workload=a,backend=native].ms")).toBe(2);
    expect(valueAtPath(bench, "rows[workload=b].ms")).toBe(3);
  });
  it("refuse a selector that matches none or several", () => {
    expect(() => valueAtPath(bench, "rows[workload=c].ms")).toThrow('"rows[workload=c]" must select one element: 0 of its 3 elements match');
    expect(() => valueAtPath(bench, "rows[workload=a].ms")).toThrow(/2 of its 3 elements match/);
    expect(() => valueAtPath(bench, "rows[workload].ms")).toThrow(/neither an index nor key=value/);
  });
  it("work inside expressions, with brace lists", () => {
    const read = () => bench;
    expect(evaluateExpression(parseExpression("max(x.json#rows[workload=a,backend={wasm,native}].ms)"), read)).toBe(2);
  });
});

describe("brace lists", () => {
  it("expand in order, several lists as a product", () => {
    expect(expandBraces("a/seed-{0,1}/x{A,B}")).toEqual(["a/seed-0/xA", "a/seed-0/xB", "a/seed-1/xA", "a/seed-1/xB"]);
    expect(expandBraces("plain")).toEqual(["plain"]);
    expect(() => expandBraces("a{b")).toThrow(/without its "}"/);
  });
});

describe("expressions", () => {
  it("a reference gives the record's value; a brace list a list", () => {
    expect(evaluate("r/seed-0/e.json#accuracy[1].mean")).toBe(0.944);
    expect(evaluate("r/seed-{0,1}/e.json#accuracy[1].mean")).toEqual([0.944, 0.9476666]);
  });
  it("add and mul compute what they say, element by element on lists", () => {
    expect(evaluate("add(r/seed-0/e.json#accuracy[0].mean, 0.5)")).toBeCloseTo(0.7, 15);
    expect(evaluate("mul(2, r/seed-{0,1}/e.json#accuracy[1].mean)")).toEqual([1.888, 1.8953332]);
    expect(() => evaluate("add(1)")).toThrow(/add/);
  });
  it("mean, min, max, sub, div and list compute what they say", () => {
    expect(evaluate("mean(r/seed-{0,1,2}/e.json#accuracy[1].mean)")).toBeCloseTo((0.944 + 0.9476666 + 0.9453333) / 3, 15);
    expect(evaluate("min(r/seed-{0,1,2}/e.json#accuracy[1].mean)")).toBe(0.944);
    expect(evaluate("max(r/seed-{0,1,2}/e.json#accuracy[1].mean)")).toBe(0.9476666);
    expect(evaluate("sub(1, div(r/seed-0/e.json#accuracy[0].mean, 0.8))")).toBeCloseTo(0.75, 15);
    expect(evaluate("div(r/seed-{0,1}/e.json#accuracy[1].mean, 2)")).toEqual([0.472, 0.4738333]);
    expect(evaluate("sub(1, r/seed-{0,1}/e.json#accuracy[0].mean)")).toEqual([0.8, 0.8]);
    expect(evaluate("list(r/seed-0/e.json#accuracy[0].mean, r/seed-{0,1}/e.json#accuracy[1].mean)")).toEqual([0.2, 0.944, 0.9476666]);
  });
  it("recordFiles lists every record an expression reads", () => {
    expect(recordFiles(parseExpression("sub(@R/seed-{0,1}/e.json#a, x/y.json#b)"), new Map([["R", "r"]]))).toEqual([
      "r/seed-0/e.json",
      "r/seed-1/e.json",
      "x/y.json",
    ]);
  });
  it("an alias stands for a folder", () => {
    expect(evaluate("@R/seed-1/e.json#accuracy[1].mean", new Map([["R", "r"]]))).toBe(0.9476666);
    expect(() => evaluate("@Q/seed-1/e.json#x")).toThrow(/unknown alias @Q/);
  });
  it("a missing record in a brace list fails instead of averaging fewer values", () => {
    expect(() => evaluate("mean(r/seed-{0,1,3}/e.json#accuracy[1].mean)")).toThrow("record r/seed-3/e.json cannot be read");
  });
  it("a missing path names the record and the step", () => {
    expect(() => evaluate("r/seed-2/e.json#runs.maml+agreement seed-0.late")).toThrow('record r/seed-2/e.json: no "runs.maml+agreement seed-0"');
  });
  it("syntax errors say where", () => {
    expect(() => parseExpression("median(r/x.json#a)")).toThrow(/unknown function median\(\)/);
    expect(() => parseExpression("mean(r/x.json#a")).toThrow(/expected "," or "\)"/);
    expect(() => parseExpression("r/x.json")).toThrow(/neither a number nor a record reference/);
    expect(() => evaluate("sub(r/seed-{0,1}/e.json#accuracy[1].mean, r/seed-{0,1,2}/e.json#accuracy[1].mean)")).toThrow(/lists of numbers of one length/);
    expect(() => evaluate("div(r/seed-0/e.json#runs, 2)")).toThrow(/expects two numbers/);
  });
});
