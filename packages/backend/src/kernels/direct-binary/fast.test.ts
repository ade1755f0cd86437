import * as tf from "@tensorflow/tfjs-core";
import "@tensorflow/tfjs-backend-wasm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { installConcord, uninstallConcord } from "../../install.js";
import { DIRECT_BINARY_KERNELS, directBinary } from "./fast.js";
import { nativeKernels } from "../native-kernels.js";

/** Values a float kernel must get exactly right: signed zeros, infinities, NaN, a denormal, rounding. */
const SPECIAL = [0, -0, 1, -1, 0.1, -2.5, 3e38, -3e38, Infinity, -Infinity, Number.NaN, 1e-40, 7, 1 / 3];

function values(size: number, offset: number): Float32Array {
  return Float32Array.from({ length: size }, (_, i) => (i % 3 === 0 ? SPECIAL[(i + offset) % SPECIAL.length]! : Math.sin(i * 1.7 + offset) * 10));
}

/** Broadcasting pairs: equal, trailing vector, both sides stretched, scalars, rank 5, rank 6 (XNNPACK's highest). */
const SHAPES: [number[], number[]][] = [
  [
    [10, 40],
    [10, 40],
  ],
  [[10, 40], [40]],
  [
    [2, 1, 4],
    [3, 1],
  ],
  [[], [5]],
  [[6], []],
  [
    [2, 3, 1, 2, 1],
    [1, 3, 4, 1, 5],
  ],
  [
    [1, 2, 1, 2, 1, 2],
    [2, 1, 2, 1, 2, 1],
  ],
];

function bits(t: tf.Tensor): number[] {
  return Array.from(new Uint32Array(Float32Array.from(t.dataSync() as Float32Array).buffer));
}

function run(name: string, a: tf.Tensor, b: tf.Tensor): tf.Tensor {
  return tf.engine().runKernel(name, { a, b }) as tf.Tensor;
}

describe("direct wasm binary kernels", () => {
  let reference: Map<string, number[]>;
  let inputs: [tf.Tensor, tf.Tensor][];

  beforeAll(async () => {
    await tf.setBackend("wasm");
    inputs = SHAPES.map(([sa, sb], i) => [tf.tensor(values(tf.util.sizeFromShape(sa), i), sa), tf.tensor(values(tf.util.sizeFromShape(sb), i + 5), sb)]);
    // tfjs-wasm's own kernels, before Concord changes anything (the native kernels, when
    // @concord/backend-native runs this file, are put back with the rest).
    const native = nativeKernels();
    uninstallConcord();
    reference = new Map();
    for (const name of DIRECT_BINARY_KERNELS) {
      inputs.forEach(([a, b], i) => {
        const out = run(name, a, b);
        reference.set(`${name} ${i}`, bits(out));
        out.dispose();
      });
    }
    installConcord({ native });
  });

  afterAll(() => {
    inputs.forEach((pair) => tf.dispose(pair));
  });

  it("every kernel gives tfjs-wasm's bits for every broadcast shape, through the direct call", () => {
    const backend = tf.backend() as unknown as Parameters<tf.KernelFunc>[0]["backend"];
    for (const name of DIRECT_BINARY_KERNELS) {
      inputs.forEach(([a, b], i) => {
        // The direct path itself (not a silent fallback to the original kernel) ...
        const info = directBinary(name, { inputs: { a, b }, backend, attrs: {} });
        expect(info, `${name} ${SHAPES[i]}`).toBeDefined();
        const direct = tf.engine().makeTensorFromTensorInfo(info!);
        expect(direct.shape).toEqual(tf.backend_util.assertAndGetBroadcastShape(a.shape, b.shape));
        expect(bits(direct), `${name} ${JSON.stringify(SHAPES[i])}`).toEqual(reference.get(`${name} ${i}`));
        direct.dispose();
        // ... and the registered kernel.
        const registered = run(name, a, b);
        expect(bits(registered)).toEqual(reference.get(`${name} ${i}`));
        registered.dispose();
      });
    }
  });

  it("int32, empty and rank-7 inputs are left to the original kernel", () => {
    const backend = tf.backend() as unknown as Parameters<tf.KernelFunc>[0]["backend"];
    tf.tidy(() => {
      const ints = [tf.tensor1d([1, 2, 3], "int32"), tf.tensor1d([4, 5, 6], "int32")] as const;
      expect(directBinary("Add", { inputs: { a: ints[0], b: ints[1] }, backend, attrs: {} })).toBeUndefined();
      expect(Array.from(tf.add(ints[0], ints[1]).dataSync())).toEqual([5, 7, 9]);
      const empty = tf.zeros([0, 3]);
      expect(directBinary("Multiply", { inputs: { a: empty, b: empty }, backend, attrs: {} })).toBeUndefined();
      expect(tf.mul(empty, empty).shape).toEqual([0, 3]);
      // (tfjs-wasm's own kernel fails above rank 6, XNNPACK's limit; Concord must not change that case.)
      const rank7 = tf.ones([1, 1, 1, 1, 1, 1, 2]);
      expect(directBinary("Sub", { inputs: { a: rank7, b: rank7 }, backend, attrs: {} })).toBeUndefined();
    });
  });

  it("leaves no tensors or heap blocks behind", () => {
    const [a, b] = inputs[1]!;
    tf.tidy(() => run("Add", a, b)); // the shape scratch is allocated once, here at the latest
    const before = tf.memory().numTensors;
    const heapBefore = (tf.backend() as unknown as { numDataIds(): number }).numDataIds();
    for (let i = 0; i < 50; i++)
      tf.tidy(() => {
        tf.mul(tf.add(a, b), tf.sub(a, b));
      });
    expect(tf.memory().numTensors).toBe(before);
    expect((tf.backend() as unknown as { numDataIds(): number }).numDataIds()).toBe(heapBefore);
  });
});
