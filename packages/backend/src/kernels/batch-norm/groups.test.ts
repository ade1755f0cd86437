// The batch-norm kernels' attribute groups: x's N images as `groups` consecutive blocks, each
// normalised on its own with its own row of scale and offset. Per block, the grouped forward,
// backward and second-order kernels give the bits of the kernel run on that block alone (the
// ungrouped kernels are checked against float64 references in fast.test.ts and grad-grad.test.ts);
// the tf-op second-order path (batchNormGradGradients) takes groups too. Run again by
// @concord/backend-native with the native kernels.
import * as tf from "@tensorflow/tfjs-core";
import { BATCH_NORM_GRAD_KERNEL, BATCH_NORM_KERNEL, createRng } from "@concord/core";
import { describeEachBackend, relativeError } from "@concord/core/testing";
import { expect, it } from "vitest";
import { BATCH_NORM_GRAD_GRAD_KERNEL } from "./contract.js";
import { batchNormGradGradients } from "./gradient.js";

const EPSILON = 1e-3;

/** Names of x-like operands (split along N); the others (scale, offset, b, e) are split by row. */
const LONG = new Set(["x", "dy", "a"]);

interface Case {
  shape: [number, number, number, number];
  groups: number;
  relu: boolean;
  /** GradGrad's upstreams present, of "abe". */
  upstreams: string;
}

const CASES: Case[] = [
  // A meta-batch of 32 tasks × 5 images at the conv net's second block.
  { shape: [32 * 5, 14, 14, 64], groups: 32, relu: true, upstreams: "abe" },
  { shape: [8 * 5, 14, 14, 64], groups: 8, relu: false, upstreams: "ab" },
  { shape: [4 * 5, 7, 7, 16], groups: 4, relu: true, upstreams: "abe" },
  { shape: [6, 3, 3, 5], groups: 3, relu: true, upstreams: "abe" },
  { shape: [6, 3, 3, 5], groups: 3, relu: false, upstreams: "a" },
  { shape: [6, 3, 3, 5], groups: 2, relu: true, upstreams: "be" },
  // One image per block, odd channel count (the SIMD scalar tail).
  { shape: [4, 2, 2, 7], groups: 4, relu: true, upstreams: "e" },
  // One value per block and channel.
  { shape: [2, 1, 1, 3], groups: 2, relu: false, upstreams: "" },
];

/** Float32 operands: each block shifted differently, so ungrouped moments would differ from every block's. */
function operands({ shape, groups, upstreams }: Case, seed: number): Record<string, { values: Float32Array; shape: number[] }> {
  const rng = createRng(seed);
  const size = tf.util.sizeFromShape(shape);
  const channels = shape[3];
  const block = size / groups;
  const floats = (count: number, deviation: number) => Float32Array.from(rng.normalArray(count, deviation));
  const x = Float32Array.from(rng.normalArray(size, 2), (v, i) => v + 3 * (Math.floor(i / block) % 4) - 4);
  const out: Record<string, { values: Float32Array; shape: number[] }> = {
    x: { values: x, shape },
    scale: { values: floats(groups * channels, 1), shape: [groups, channels] },
    offset: { values: floats(groups * channels, 0.5), shape: [groups, channels] },
    dy: { values: floats(size, 1), shape },
  };
  for (const name of upstreams) {
    out[name] = name === "a" ? { values: floats(size, 1), shape } : { values: floats(groups * channels, 1), shape: [groups, channels] };
  }
  return out;
}

type Operands = ReturnType<typeof operands>;

/** Forward, backward and second-order outputs (in that order) of one call of each kernel on these operands. */
function runAll(ops: Operands, groups: number, relu: boolean): tf.Tensor[] {
  const t = Object.fromEntries(Object.entries(ops).map(([name, { values, shape }]) => [name, tf.tensor(values, shape)]));
  const attrs: tf.NamedAttrMap = groups === 1 ? { epsilon: EPSILON, relu } : { epsilon: EPSILON, relu, groups };
  const { x, scale, offset, dy } = t as Record<string, tf.Tensor>;
  const run = (name: string, inputs: tf.NamedTensorMap) => tf.engine().runKernel(name, inputs, attrs) as unknown as tf.Tensor | tf.Tensor[];
  // Forward first, then the gradients of the same x (the native path reuses the forward's moments).
  const y = run(BATCH_NORM_KERNEL, { x: x!, scale: scale!, offset: offset! }) as tf.Tensor;
  const grads = run(BATCH_NORM_GRAD_KERNEL, { x: x!, scale: scale!, offset: offset!, dy: dy! }) as tf.Tensor[];
  const gradGrads = run(BATCH_NORM_GRAD_GRAD_KERNEL, t as tf.NamedTensorMap) as tf.Tensor[];
  return [y, ...grads, ...gradGrads];
}

/** Block g of every operand, scale-like rows as [C]: what the ungrouped kernels take. */
function blockOf(ops: Operands, g: number, groups: number): Operands {
  return Object.fromEntries(
    Object.entries(ops).map(([name, { values, shape }]) => {
      const length = values.length / groups;
      const part = values.slice(g * length, (g + 1) * length);
      return [name, { values: part, shape: LONG.has(name) ? [shape[0]! / groups, ...shape.slice(1)] : [shape[1]!] }];
    }),
  );
}

const sameBits = (a: Float32Array, b: Float32Array) =>
  a.length === b.length && Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));

const NAMES = ["y", "dx", "dScale", "dOffset", "gradGrad dX", "gradGrad dScale", "gradGrad dDy"];

describeEachBackend("batch-norm kernels with attribute groups", () => {
  CASES.forEach((c, index) => {
    it(`x [${c.shape}], groups ${c.groups}, relu ${c.relu}, upstreams "${c.upstreams}": each block's bits are the kernels' on that block alone`, () => {
      const ops = operands(c, 40 + index);
      const before = tf.memory().numTensors;
      const { grouped, shapes } = tf.tidy(() => {
        const outputs = runAll(ops, c.groups, c.relu);
        return { grouped: outputs.map((t) => t.dataSync() as Float32Array), shapes: outputs.map((t) => t.shape) };
      });
      const { shape, groups } = c;
      expect(shapes).toEqual([shape, shape, [groups, shape[3]], [groups, shape[3]], shape, [groups, shape[3]], shape]);
      const blocks = Array.from({ length: groups }, (_, g) =>
        tf.tidy(() => runAll(blockOf(ops, g, groups), 1, c.relu).map((t) => t.dataSync() as Float32Array)),
      );
      NAMES.forEach((name, k) => {
        const perBlock = new Float32Array(grouped[k]!.length);
        const length = perBlock.length / groups;
        blocks.forEach((outputs, g) => perBlock.set(outputs[k]!, g * length));
        expect(sameBits(grouped[k]!, perBlock), name).toBe(true);
      });
      // Not vacuous: ReLU clips some values, and every block's moments differ from the whole batch's.
      if (c.relu) expect(grouped[0]!.some((v) => v === 0) && grouped[0]!.some((v) => v > 0)).toBe(true);
      const ungrouped = tf.tidy(() => {
        const rowZero = (name: string) => tf.tensor(ops[name]!.values.slice(0, shape[3]), [shape[3]]);
        const y = tf.engine().runKernel(
          BATCH_NORM_KERNEL,
          { x: tf.tensor(ops["x"]!.values, shape), scale: rowZero("scale"), offset: rowZero("offset") },
          {
            epsilon: EPSILON,
            relu: c.relu,
          },
        ) as tf.Tensor;
        return y.dataSync().slice(0, grouped[0]!.length / groups) as Float32Array;
      });
      expect(sameBits(ungrouped, grouped[0]!.subarray(0, ungrouped.length))).toBe(false);
      expect(tf.memory().numTensors).toBe(before);
    });
  });

  it("the backward kernels give the same bits without the forward run first (no kept moments)", () => {
    const c = CASES[2]!;
    const ops = operands(c, 7);
    const before = tf.memory().numTensors;
    const withForward = tf.tidy(() => runAll(ops, c.groups, c.relu).map((t) => t.dataSync() as Float32Array));
    const alone = tf.tidy(() => {
      const t = Object.fromEntries(Object.entries(ops).map(([name, { values, shape }]) => [name, tf.tensor(values, shape)])) as tf.NamedTensorMap;
      const attrs = { epsilon: EPSILON, relu: c.relu, groups: c.groups };
      const grads = tf
        .engine()
        .runKernel(BATCH_NORM_GRAD_KERNEL, { x: t["x"]!, scale: t["scale"]!, offset: t["offset"]!, dy: t["dy"]! }, attrs) as unknown as tf.Tensor[];
      const gradGrads = tf.engine().runKernel(BATCH_NORM_GRAD_GRAD_KERNEL, t, attrs) as unknown as tf.Tensor[];
      return [...grads, ...gradGrads].map((g) => g.dataSync() as Float32Array);
    });
    alone.forEach((values, k) => expect(sameBits(values, withForward[k + 1]!), NAMES[k + 1]).toBe(true));
    expect(tf.memory().numTensors).toBe(before);
  });

  // Not the large relu case: among 2M values some lie within float32 rounding of the ReLU's kink,
  // where the two paths' masks may differ (an O(1) difference at that element, not a rounding one).
  for (const c of [CASES[1]!, CASES[2]!, CASES[3]!, CASES[4]!, CASES[5]!]) {
    it(`x [${c.shape}], groups ${c.groups}, relu ${c.relu}, upstreams "${c.upstreams}": the tf-op second-order path equals the kernel to float32 rounding`, () => {
      const ops = operands(c, 60);
      const before = tf.memory().numTensors;
      const [kernel, tfOps] = tf.tidy(() => {
        const t = Object.fromEntries(Object.entries(ops).map(([name, { values, shape }]) => [name, tf.tensor(values, shape)])) as tf.NamedTensorMap;
        const attrs = { epsilon: EPSILON, relu: c.relu, groups: c.groups };
        const kernelOut = tf.engine().runKernel(BATCH_NORM_GRAD_GRAD_KERNEL, t, attrs) as unknown as tf.Tensor[];
        const upstream = (["a", "b", "e"] as const).map((name) => t[name] ?? null);
        const got = batchNormGradGradients(t["x"]!, t["scale"]!, t["offset"]!, t["dy"]!, upstream, attrs);
        expect([got.x.shape, got.scale.shape, got.dy.shape]).toEqual(kernelOut.map((k) => k.shape));
        return [kernelOut.map((k) => k.dataSync() as Float32Array), [got.x, got.scale, got.dy].map((k) => k.dataSync() as Float32Array)];
      });
      // Tolerances of grad-grad.test.ts (dX is a difference of terms of similar size).
      expect(relativeError(tfOps[0]!, kernel[0]!), "dX").toBeLessThan(2e-4);
      expect(relativeError(tfOps[1]!, kernel[1]!), "dScale").toBeLessThan(1e-4);
      expect(relativeError(tfOps[2]!, kernel[2]!), "dDy").toBeLessThan(1e-4);
      expect(kernel[2]!.some((v) => Math.abs(v) > 1e-2)).toBe(true);
      expect(tf.memory().numTensors).toBe(before);
    });
  }

  it("gradients of a grouped forward (first and second order) run the grouped kernels and leak nothing", () => {
    const c: Case = { shape: [6, 3, 3, 4], groups: 3, relu: true, upstreams: "" };
    const ops = operands(c, 9);
    const [x, scale, offset, w] = [ops["x"]!, ops["scale"]!, ops["offset"]!, ops["dy"]!].map(({ values, shape }) => tf.tensor(values, shape)) as [
      tf.Tensor,
      tf.Tensor,
      tf.Tensor,
      tf.Tensor,
    ];
    const attrs = { epsilon: EPSILON, relu: true, groups: 3 };
    // Σ w·bn(x), its gradient's squared norm (second order through ConcordBatchNormGrad), per block against ungrouped calls.
    const loss = (input: tf.Tensor, gamma: tf.Tensor, beta: tf.Tensor, weights: tf.Tensor, a: tf.NamedAttrMap) =>
      tf.sum(tf.mul(weights, tf.engine().runKernel(BATCH_NORM_KERNEL, { x: input, scale: gamma, offset: beta }, a) as tf.Tensor)) as tf.Scalar;
    const secondOrder = (input: tf.Tensor, gamma: tf.Tensor, beta: tf.Tensor, weights: tf.Tensor, a: tf.NamedAttrMap) =>
      tf.grads((p: tf.Tensor, q: tf.Tensor) => {
        const [gx, gScale] = tf.grads((u: tf.Tensor, v: tf.Tensor) => loss(u, v, beta, weights, a))([p, q]);
        return tf.add(tf.sum(tf.square(gx!)), tf.sum(tf.square(gScale!))) as tf.Scalar;
      })([input, gamma]);
    const before = tf.memory().numTensors;
    const repeat = () => tf.tidy(() => secondOrder(x, scale, offset, w, attrs).map((t) => t.dataSync() as Float32Array));
    const grouped = repeat();
    expect(tf.memory().numTensors).toBe(before);
    repeat();
    expect(tf.memory().numTensors).toBe(before);
    const perBlock = Array.from({ length: 3 }, (_, g) =>
      tf.tidy(() => {
        const rows = (t: tf.Tensor) => tf.slice(t, [g * 2, 0, 0, 0], [2, 3, 3, 4]);
        const row = (t: tf.Tensor) => tf.reshape(tf.slice(t, [g, 0], [1, 4]), [4]);
        return secondOrder(rows(x), row(scale), row(offset), rows(w), { epsilon: EPSILON, relu: true }).map((t) => t.dataSync() as Float32Array);
      }),
    );
    grouped.forEach((values, k) => {
      const joined = new Float32Array(values.length);
      perBlock.forEach((outputs, g) => joined.set(outputs[k]!, g * outputs[k]!.length));
      expect(sameBits(values, joined), ["dx", "dScale"][k]).toBe(true);
      expect(values.some((v) => v !== 0)).toBe(true);
    });
    tf.dispose([x, scale, offset, w]);
  });

  it("rejects a bad groups attribute, N not divisible by it and scale-like inputs of the wrong shape, naming the kernel and the field", () => {
    const before = tf.memory().numTensors;
    tf.tidy(() => {
      const x = tf.zeros([4, 2, 2, 3]);
      const rows = tf.ones([2, 3]);
      const threeRows = tf.ones([3, 3]);
      const attrs = (groups: unknown) => ({ epsilon: EPSILON, relu: true, groups }) as never;
      const forward = (inputs: Record<string, tf.Tensor>, groups: unknown) => () => tf.engine().runKernel(BATCH_NORM_KERNEL, inputs as never, attrs(groups));
      for (const groups of [0, -2, 1.5, Number.NaN, "2"]) {
        expect(forward({ x, scale: rows, offset: rows }, groups)).toThrow(
          new RegExp(`^ConcordBatchNorm: expected attribute groups a positive integer \\(or absent: 1\\), got ${String(groups)}$`),
        );
      }
      expect(forward({ x, scale: tf.ones([3, 3]), offset: tf.ones([3, 3]) }, 3)).toThrow(
        /^ConcordBatchNorm: expected x's N divisible by attribute groups \(blocks of N\/groups images\); got x \[4, 2, 2, 3\], groups 3$/,
      );
      expect(forward({ x, scale: tf.ones([3]), offset: rows }, 2)).toThrow(
        /^ConcordBatchNorm: expected float32 x \[N, H, W, C\] \(not empty\), scale and offset \[groups, C\] \(groups 2\); got x float32 \[4, 2, 2, 3\], scale float32 \[3\], offset float32 \[2, 3\]$/,
      );
      expect(forward({ x, scale: rows, offset: tf.ones([4, 3]) }, 2)).toThrow(/scale and offset \[groups, C\] \(groups 2\); .*offset float32 \[4, 3\]/);
      // groups 1 (or absent) keeps scale and offset [C].
      expect(forward({ x, scale: tf.ones([1, 3]), offset: tf.ones([1, 3]) }, 1)).toThrow(/scale and offset \[C\]; got .*scale float32 \[1, 3\]/);
      expect(forward({ x, scale: tf.ones([3]), offset: tf.ones([3]) }, 1)).not.toThrow();
      expect(() => tf.engine().runKernel(BATCH_NORM_GRAD_KERNEL, { x, scale: rows, offset: rows, dy: x }, attrs(0))).toThrow(
        /^ConcordBatchNormGrad: expected attribute groups a positive integer/,
      );
      expect(() => tf.engine().runKernel(BATCH_NORM_GRAD_KERNEL, { x, scale: tf.ones([3]), offset: tf.ones([3]), dy: x }, attrs(2))).toThrow(
        /^ConcordBatchNormGrad: expected float32 x .*scale and offset \[groups, C\] \(groups 2\), dy like x; got/,
      );
      const gradGrad = (extra: Record<string, tf.Tensor>, groups: unknown) => () =>
        tf.engine().runKernel(BATCH_NORM_GRAD_GRAD_KERNEL, { x, scale: rows, offset: rows, dy: x, ...extra } as never, attrs(groups));
      expect(gradGrad({ scale: threeRows, offset: threeRows }, 3)).toThrow(/^ConcordBatchNormGradGrad: expected x's N divisible by attribute groups/);
      expect(gradGrad({}, 2.5)).toThrow(/^ConcordBatchNormGradGrad: expected attribute groups a positive integer/);
      expect(gradGrad({ b: tf.ones([3]) }, 2)).toThrow(
        /^ConcordBatchNormGradGrad: expected float32 upstreams a like x, b and e \[groups, C\] like scale \(each optional\); got a absent, b float32 \[3\], e absent$/,
      );
      expect(gradGrad({ e: tf.ones([2, 4]) }, 2)).toThrow(/ConcordBatchNormGradGrad: .*e float32 \[2, 4\]/);
      expect(gradGrad({ b: rows, e: rows }, 2)).not.toThrow();
    });
    expect(tf.memory().numTensors).toBe(before);
  });
});
