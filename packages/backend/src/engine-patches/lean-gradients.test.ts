import * as tf from "@tensorflow/tfjs-core";
import { createRng } from "@concord/core";
import { describeEachBackend } from "@concord/core/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { enginePatched } from "../registry-journal.js";
import { filterTape, installLeanGradients } from "./lean-gradients.js";

function bits(t: tf.Tensor): number[] {
  return Array.from(new Uint32Array(Float32Array.from(t.dataSync() as Float32Array).buffer));
}

/** Runs `body` with tfjs's own Engine.gradients (the prototype's), then puts Concord's back. */
function withTfjsGradients<T>(body: () => T): T {
  const engine = tf.engine() as unknown as Record<string, unknown>;
  const lean = engine["gradients"];
  delete engine["gradients"];
  try {
    return body();
  } finally {
    engine["gradients"] = lean;
  }
}

/** Second-order MAML on a small MLP: the nested tapes Concord's lean gradients exist for. */
function mamlGradients(params: tf.Tensor[], x: tf.Tensor, y: tf.Tensor): tf.Tensor[] {
  const loss = (p: tf.Tensor[]) => {
    const hidden = tf.relu(tf.add(tf.matMul(x, p[0]!), p[1]!));
    return tf.mean(tf.squaredDifference(tf.add(tf.matMul(hidden, p[2]!), p[3]!), y));
  };
  return tf.grads((...p: tf.Tensor[]) => {
    const inner = tf.grads((...q: tf.Tensor[]) => loss(q))(p);
    return loss(p.map((value, i) => tf.sub(value, tf.mul(inner[i]!, 0.01))));
  })(params);
}

/** Gradients through multi-output kernels (split, unstack), broadcasting, a concat, and an input used twice. */
function mixedGradients(xs: tf.Tensor[]): tf.Tensor[] {
  return tf.grads((a: tf.Tensor, b: tf.Tensor) => {
    const [left, right] = tf.split(a, 2, 1);
    const rows = tf.unstack(b);
    const joined = tf.concat([tf.mul(left!, rows[0]!), tf.tanh(right!)], 1);
    return tf.sum(tf.mul(tf.add(joined, tf.concat([b, b], 1)), tf.exp(a)));
  })(xs);
}

describeEachBackend("lean Engine.gradients", () => {
  let params: tf.Tensor[];
  let x: tf.Tensor;
  let y: tf.Tensor;
  let mixed: tf.Tensor[];

  beforeAll(() => {
    const rng = createRng(3);
    params = [
      tf.tensor2d(rng.normalArray(8, 1), [1, 8]),
      tf.tensor1d(rng.normalArray(8, 0.1)),
      tf.tensor2d(rng.normalArray(8, 0.5), [8, 1]),
      tf.tensor1d([0.2]),
    ];
    x = tf.tensor2d(rng.normalArray(5, 2), [5, 1]);
    y = tf.sin(x);
    mixed = [tf.tensor2d(rng.normalArray(8, 1), [2, 4]), tf.tensor2d(rng.normalArray(4, 1), [2, 2])];
  });

  afterAll(() => {
    tf.dispose([...params, x, y, ...mixed]);
  });

  it("is installed (vitest.setup.ts installs Concord)", () => {
    expect(installLeanGradients()).toBe(true);
    expect(enginePatched("gradients")).toBe(true);
  });

  it("gives tfjs's gradients bit for bit: second-order MAML, multi-output kernels, third derivatives", () => {
    const cubic = (v: tf.Tensor) => tf.mul(tf.mul(tf.mul(v, v), v), tf.exp(v));
    const third = (v: tf.Tensor) => tf.grad((w: tf.Tensor) => tf.grad((u: tf.Tensor) => tf.grad(cubic)(u))(w))(v);
    const point = tf.tensor1d([0.3, -1.2, 2]);
    const run = () => tf.tidy(() => [...mamlGradients(params, x, y).map(bits), ...mixedGradients(mixed).map(bits), bits(third(point))]);
    const lean = run();
    const tfjs = withTfjsGradients(run);
    expect(lean).toEqual(tfjs);
    point.dispose();
  });

  it("passes dy through and returns the value, as tfjs does", () => {
    const dy = tf.tensor2d([[1, -2, 0.5, 3, 0, -0, 7, 1e-3]]);
    const run = () =>
      tf.tidy(() => {
        const { value, grads } = tf.engine().gradients(() => tf.mul(params[0]!, params[0]!), [params[0]!], dy);
        return [bits(value), bits(grads[0]!)];
      });
    expect(run()).toEqual(withTfjsGradients(run));
    dy.dispose();
  });

  it("throws tfjs's errors: no path from x to y, a non-float dy, no xs", () => {
    const messages = () => {
      const caught: string[] = [];
      for (const attempt of [
        () => tf.grad(() => tf.scalar(1))(params[3]!),
        () => tf.engine().gradients(() => tf.sum(params[3]!), [params[3]!], tf.scalar(1, "int32")),
        () => tf.engine().gradients(() => tf.sum(params[3]!), []),
      ]) {
        try {
          tf.tidy(() => void attempt());
          caught.push("no error");
        } catch (error) {
          caught.push((error as Error).message);
        }
      }
      return caught;
    };
    const lean = messages();
    expect(lean.every((message) => message !== "no error")).toBe(true);
    expect(lean).toEqual(withTfjsGradients(messages));
  });

  it("leaves no tensors behind (the tape's saved tensors are disposed at depth 0)", () => {
    tf.tidy(() => void mamlGradients(params, x, y));
    const before = tf.memory().numTensors;
    for (let i = 0; i < 5; i++) tf.tidy(() => void mamlGradients(params, x, y));
    expect(tf.memory().numTensors).toBe(before);
  });
});

describe("filterTape", () => {
  const t = (id: number) => ({ id }) as tf.Tensor;
  const node = (id: number, inputs: Record<string, tf.Tensor>, outputs: tf.Tensor[]) => ({ id, kernelName: `k${id}`, inputs, outputs, gradient: () => ({}) });

  it("keeps the nodes on a path from x to y, in order, with only the inputs that depend on x", () => {
    const [x, other, a, b, c, y, stray, constant] = [1, 2, 3, 4, 5, 6, 7, 8].map(t) as tf.Tensor[];
    const tape = [
      node(0, { v: x! }, [a!]), // x → a
      node(1, { v: other! }, [b!]), // does not depend on x
      node(2, {}, [constant!]), // no inputs at all
      node(3, { first: a!, second: b!, third: constant! }, [c!]), // depends on x through a only
      node(4, { v: a! }, [stray!]), // depends on x, does not lead to y
      node(5, { v: c! }, [y!]),
    ];
    const filtered = filterTape(tape, [x!], y!);
    expect(filtered.map((n) => n.kernelName)).toEqual(["k0", "k3", "k5"]);
    expect(filtered.map((n) => Object.keys(n.inputs))).toEqual([["v"], ["first"], ["v"]]);
    expect(filtered[1]!.inputs["first"]).toBe(a);
    expect(filtered[1]!.outputs).toBe(tape[3]!.outputs);
    expect(filtered[2]!.gradient).toBe(tape[5]!.gradient);
    // The tape itself is not modified.
    expect(Object.keys(tape[3]!.inputs)).toEqual(["first", "second", "third"]);
  });

  it("follows every x, and a multi-output node reached through any output", () => {
    const [x1, x2, p, q, r, y] = [1, 2, 3, 4, 5, 6].map(t) as tf.Tensor[];
    const tape = [node(0, { v: x2! }, [p!, q!]), node(1, { a: x1!, b: q! }, [r!]), node(2, { v: r! }, [y!])];
    expect(filterTape(tape, [x1!, x2!], y!).map((n) => n.kernelName)).toEqual(["k0", "k1", "k2"]);
    expect(filterTape(tape, [x1!], y!).map((n) => Object.keys(n.inputs))).toEqual([["a"], ["v"]]);
    expect(filterTape(tape, [t(99)], y!)).toEqual([]);
  });
});
