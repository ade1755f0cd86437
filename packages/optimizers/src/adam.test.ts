import * as tf from "@tensorflow/tfjs-core";
import { ConcordError, createRng, disposeParams, type Params } from "@concord/core";
import { describeEachBackend, relativeError, tensorGrowth } from "@concord/core/testing";
import { expect, it } from "vitest";
import { adam } from "./adam.js";

const values = (params: Params, name: string) => Array.from(params[name]!.dataSync());

/** Independent float64 Adam (PyTorch's update) over flat arrays. */
function referenceAdam(theta: Float64Array, grads: readonly Float64Array[], lr: number, beta1: number, beta2: number, epsilon: number): Float64Array {
  const out = Float64Array.from(theta);
  const m = new Float64Array(theta.length);
  const v = new Float64Array(theta.length);
  grads.forEach((grad, index) => {
    const t = index + 1;
    for (let i = 0; i < out.length; i++) {
      m[i] = beta1 * m[i]! + (1 - beta1) * grad[i]!;
      v[i] = beta2 * v[i]! + (1 - beta2) * grad[i]! * grad[i]!;
      const mHat = m[i]! / (1 - beta1 ** t);
      const vHat = v[i]! / (1 - beta2 ** t);
      out[i] = out[i]! - (lr * mHat) / (Math.sqrt(vHat) + epsilon);
    }
  });
  return out;
}

/** Runs `steps` applies of `optimizer` from `params` with gradients grads[k]; disposes intermediates. */
function run(optimizer: ReturnType<typeof adam>, params: Params, grads: readonly Params[]): Params {
  let current = params;
  for (const grad of grads) {
    const next = optimizer.apply(current, grad);
    if (current !== params) disposeParams(current);
    current = next;
  }
  return current;
}

function randomGrads(steps: number, seed: number): Params[] {
  const rng = createRng(seed);
  return Array.from({ length: steps }, () => ({ w: tf.tensor2d(rng.normalArray(6), [2, 3]), b: tf.tensor1d(rng.normalArray(3, 0.1)) }));
}

describeEachBackend("adam", () => {
  it("matches hand-worked values for 3 steps", () => {
    // lr = 0.1, β1 = 0.9, β2 = 0.999, ε = 1e-8, θ0 = (1, −1), d = (0.5, −2), (−1, 1), (0.2, 0).
    // θ_1: step 1, m = 0.1·d, v = 0.001·d², m̂ = d, v̂ = d², so θ − 0.1·sign(d) = (0.9, −0.9).
    // θ_2[0]: m = 0.9·0.05 − 0.1 = −0.055, v = 0.999·0.00025 + 0.001 = 0.00124975,
    //   m̂ = −0.055/0.19 = −0.2894737, v̂ = 0.00124975/0.001999 = 0.6251876, √v̂ = 0.7906881,
    //   θ = 0.9 + 0.1·0.2894737/0.7906881 = 0.9366104.
    // θ_2[1]: m = −0.18 + 0.1 = −0.08, v = 0.003996 + 0.001 = 0.004996, m̂ = −0.4210526,
    //   v̂ = 2.4992496, √v̂ = 1.5808985, θ = −0.9 + 0.1·0.4210526/1.5808985 = −0.8733663.
    // θ_3[0]: m = −0.0495 + 0.02 = −0.0295, v = 0.0012485003 + 0.00004 = 0.0012885003,
    //   m̂ = −0.0295/0.271 = −0.1088561, v̂ = 0.0012885003/0.002997001 = 0.4299299, √v̂ = 0.6556904,
    //   θ = 0.9366104 + 0.1·0.1088561/0.6556904 = 0.9532121.
    // θ_3[1]: d = 0: m = −0.072, v = 0.004991004, m̂ = −0.2656827, v̂ = 1.6653328, √v̂ = 1.2904777,
    //   θ = −0.8733663 + 0.1·0.2656827/1.2904777 = −0.8527784.
    const optimizer = adam({ lr: 0.1 });
    let params: Params = { theta: tf.tensor1d([1, -1]) };
    const grads = [
      [0.5, -2],
      [-1, 1],
      [0.2, 0],
    ];
    const expected = [
      [0.9, -0.9],
      [0.9366104, -0.8733663],
      [0.9532121, -0.8527784],
    ];
    grads.forEach((grad, index) => {
      const metaGradient = { theta: tf.tensor1d(grad) };
      const next = optimizer.apply(params, metaGradient);
      disposeParams(params);
      disposeParams(metaGradient);
      params = next;
      values(params, "theta").forEach((value, i) => {
        expect(Math.abs(value - expected[index]![i]!), `step ${index + 1}, entry ${i}`).toBeLessThanOrEqual(2e-6);
      });
    });
    const state = optimizer.getState();
    expect(state.step).toBe(3);
    expect(Object.keys(state.slots)).toEqual(["m/theta", "v/theta"]);
    expect(Array.from(state.slots["m/theta"]!.dataSync()).map((x) => Number(x.toFixed(7)))).toEqual([-0.0295, -0.072]);
    tf.dispose(Object.values(state.slots));
    disposeParams(params);
    optimizer.dispose();
  });

  it("matches an independent float64 implementation over 20 steps to 1e-5 relative", () => {
    for (const options of [{ lr: 0.01 }, { lr: 0.3, beta1: 0.5, beta2: 0.9, epsilon: 1e-3 }, { lr: 0.05, beta1: 0, beta2: 0 }]) {
      const optimizer = adam(options);
      const rng = createRng(5);
      const start = { w: tf.tensor2d(rng.normalArray(6), [2, 3]), b: tf.tensor1d(rng.normalArray(3)) };
      const grads = randomGrads(20, 9);
      const end = run(optimizer, start, grads);
      const flat = (params: Params) => Float64Array.from([...params.w!.dataSync(), ...params.b!.dataSync()]);
      const expected = referenceAdam(flat(start), grads.map(flat), options.lr, options.beta1 ?? 0.9, options.beta2 ?? 0.999, options.epsilon ?? 1e-8);
      const error = relativeError(flat(end), expected);
      expect(error, `options ${JSON.stringify(options)}`).toBeLessThanOrEqual(1e-5);
      grads.forEach(disposeParams);
      disposeParams(start);
      disposeParams(end);
      optimizer.dispose();
    }
  });

  it("save → restore → continue is bit-identical to an uninterrupted run", () => {
    const grads = randomGrads(20, 11);
    const start = () => ({
      w: tf.tensor2d([
        [0.1, -0.2, 0.3],
        [1, 2, -3],
      ]),
      b: tf.tensor1d([0, 0.5, -0.5]),
    });

    const straight = adam({ lr: 0.02 });
    const initial = start();
    const uninterrupted = run(straight, initial, grads);

    const first = adam({ lr: 0.02 });
    const initialB = start();
    const halfway = run(first, initialB, grads.slice(0, 10));
    const saved = first.getState();
    first.dispose(); // the saved copies must not depend on the optimizer that produced them
    const resumed = adam({ lr: 0.02 });
    resumed.setState(saved);
    tf.dispose(Object.values(saved.slots)); // nor on the caller's copies
    const continued = run(resumed, halfway, grads.slice(10));

    for (const name of ["w", "b"]) expect(values(continued, name)).toEqual(values(uninterrupted, name));
    const stateA = straight.getState();
    const stateB = resumed.getState();
    expect(stateB.step).toBe(20);
    for (const key of Object.keys(stateA.slots)) expect(Array.from(stateB.slots[key]!.dataSync())).toEqual(Array.from(stateA.slots[key]!.dataSync()));
    tf.dispose([...Object.values(stateA.slots), ...Object.values(stateB.slots)]);
    for (const params of [initial, uninterrupted, initialB, halfway, continued, ...grads]) disposeParams(params);
    straight.dispose();
    resumed.dispose();
  });

  it("leaves params, meta-gradient and returned state copies alone", () => {
    const optimizer = adam({ lr: 0.1 });
    const params = { w: tf.tensor1d([1, 2]) };
    const grad = { w: tf.tensor1d([0.5, -0.5]) };
    const next = optimizer.apply(params, grad);
    expect(params.w.isDisposed || grad.w.isDisposed).toBe(false);
    expect(values(params, "w")).toEqual([1, 2]);
    const state = optimizer.getState();
    tf.dispose(Object.values(state.slots));
    const again = optimizer.apply(next, grad); // still works: getState handed out copies
    expect(values(again, "w").every(Number.isFinite)).toBe(true);
    tf.dispose([params.w, grad.w, next.w!, again.w!]);
    optimizer.dispose();
    expect(() => optimizer.getState()).toThrow(/optimizer 'adam' was disposed/);
  });

  it("does not grow the tensor count over 200 applies", () => {
    const optimizer = adam({ lr: 0.001 });
    let params: Params = { w: tf.randomNormal([5, 4]), b: tf.zeros([4]) };
    const grads = { w: tf.randomNormal([5, 4]), b: tf.ones([4]) };
    const growth = tensorGrowth(() => {
      const next = optimizer.apply(params, grads);
      disposeParams(params);
      params = next;
    }, 200);
    expect(growth).toBe(0);
    const beforeDispose = tf.memory().numTensors;
    optimizer.dispose();
    expect(tf.memory().numTensors).toBe(beforeDispose - 4); // m and v of w and b
    disposeParams(params);
    disposeParams(grads);
  });

  it("rejects bad options with a ConcordError naming the field", () => {
    const cases: [Record<string, unknown>, RegExp][] = [
      [{ lr: 0 }, /^lr: expected a finite number > 0, got 0/],
      [{ lr: -1 }, /^lr: /],
      [{ lr: Number.NaN }, /^lr: expected a finite number > 0, got NaN/],
      [{}, /^lr: expected a finite number > 0, got undefined/],
      [{ lr: 0.1, beta1: 1 }, /^beta1: expected a number in \[0, 1\), got 1/],
      [{ lr: 0.1, beta1: -0.1 }, /^beta1: /],
      [{ lr: 0.1, beta1: Number.NaN }, /^beta1: /],
      [{ lr: 0.1, beta2: 1.5 }, /^beta2: expected a number in \[0, 1\), got 1.5/],
      [{ lr: 0.1, epsilon: -1e-8 }, /^epsilon: expected a finite number >= 0/],
      [{ lr: 0.1, epsilon: Number.POSITIVE_INFINITY }, /^epsilon: /],
    ];
    for (const [options, message] of cases) {
      expect(() => adam(options as { lr: number })).toThrow(ConcordError);
      expect(() => adam(options as { lr: number })).toThrow(message);
    }
    expect(() => adam("fast" as unknown as { lr: number })).toThrow(/^options: adam\(\) expected an options object/);
  });

  it("rejects a state or parameters that do not fit", () => {
    const optimizer = adam({ lr: 0.1 });
    const slot = tf.zeros([2]);
    const other = tf.zeros([3]);
    expect(() => optimizer.setState({ name: "sgd", step: 0, slots: {} })).toThrow(/^state\.name: expected optimizer state of 'adam', got "sgd"/);
    expect(() => optimizer.setState({ name: "adam", step: 1.5, slots: {} })).toThrow(/^state\.step: /);
    expect(() => optimizer.setState({ name: "adam", step: 1, slots: { "m/w": slot } })).toThrow(/^state\.slots: expected both m\/w and v\/w/);
    expect(() => optimizer.setState({ name: "adam", step: 1, slots: { w: slot } })).toThrow(/^state\.slots: expected slot names/);
    expect(() => optimizer.setState({ name: "adam", step: 1, slots: { "m/w": slot, "v/w": other } })).toThrow(/m\/w has shape \[2\] but v\/w has \[3\]/);

    optimizer.setState({ name: "adam", step: 4, slots: { "v/w": slot, "m/w": slot } });
    const wrongName = { u: tf.zeros([2]) };
    const wrongShape = { w: tf.zeros([3]) };
    expect(() => optimizer.apply(wrongName, wrongName)).toThrow(/^params: expected parameters \[w\] \(those of the optimizer state\), got \[u\]/);
    expect(() => optimizer.apply(wrongShape, wrongShape)).toThrow(/^params\.w: expected shape \[2\]/);
    expect(() => optimizer.apply({ w: slot }, wrongName)).toThrow(/^metaGradient: /);
    tf.dispose([slot, other, wrongName.u, wrongShape.w]);
    optimizer.dispose();
  });
});
