// MAML meta-gradients of a reduced convNet (2 blocks, 4 filters, 8×8 input, 3 ways) against an
// independent float64 implementation with finite differences, on cpu and wasm. This lives in the
// example because it needs both @concord/models and @concord/algorithms (which depends on models).
import * as tf from "@tensorflow/tfjs-core";
import { createRng, disposeParams, flattenParams, type Params, type Task } from "@concord/core";
import { describeEachBackend, relativeError } from "@concord/core/testing";
import { type ExecutionOption, maml, reptile } from "@concord/algorithms";
import { convNet, softmaxCrossEntropy } from "@concord/models";
import { sgd } from "@concord/optimizers";
import { uniform } from "@concord/weighting";
import { expect, it } from "vitest";
import {
  type ReferenceTask,
  referenceConvNet,
  referenceGradient,
  referenceLoss,
  referenceMetaObjective,
} from "../../../packages/models/src/testing/reference-conv-net.js";

const ALPHA = 0.4;
const shape: [number, number, number] = [8, 8, 1];
const options = { ways: 3, inputShape: shape, filters: 4, blocks: 2 };
const model = convNet(options);
const net = referenceConvNet(options);

/** θ: the init plus noise (so scales, offsets and biases are not at their trivial values), rounded to float32. */
function randomTheta(seed: number): Float64Array {
  const rng = createRng(seed);
  const params = model.init(rng);
  const flat = flattenParams(params);
  const values = flat.dataSync();
  const theta = Float64Array.from(values, (v) => Math.fround(v + 0.3 * rng.normal()));
  tf.dispose([flat, ...Object.values(params)]);
  return theta;
}

function referenceTasks(count: number, seed: number): ReferenceTask[] {
  const rng = createRng(seed);
  const batch = () => ({
    x: Float64Array.from({ length: 3 * 64 }, () => Math.fround(rng.uniform(0, 1))),
    count: 3,
    labels: [0, 1, 2],
  });
  return Array.from({ length: count }, () => ({ support: batch(), query: batch() }));
}

function toParams(theta: Float64Array): Params {
  const params: Record<string, tf.Tensor> = {};
  let offset = 0;
  for (const { name, shape: s } of net.layout) {
    const size = s.reduce((a, b) => a * b, 1);
    params[name] = tf.tensor(Float32Array.from(theta.subarray(offset, offset + size)), [...s], "float32");
    offset += size;
  }
  return params;
}

function toTasks(tasks: readonly ReferenceTask[]): Task[] {
  const batch = (b: ReferenceTask["support"]) => ({
    x: tf.tensor4d(Float32Array.from(b.x), [b.count, ...shape]),
    y: tf.tensor1d([...b.labels], "int32"),
  });
  return tasks.map((task) => ({ support: batch(task.support), query: batch(task.query) }));
}

function metaGradient(order: 1 | 2, theta: Float64Array, reference: readonly ReferenceTask[], execution: ExecutionOption = "per-task"): Float64Array {
  return metaStep(maml({ order, innerSteps: 1, execution }), theta, reference);
}

/** One step of `algorithm` at θ on the tasks: its meta-gradient (direction), flattened in float64. */
function metaStep(algorithm: ReturnType<typeof maml>, theta: Float64Array, reference: readonly ReferenceTask[]): Float64Array {
  const params = toParams(theta);
  const tasks = toTasks(reference);
  try {
    const result = algorithm.step({
      params,
      tasks,
      model,
      objective: softmaxCrossEntropy(),
      innerOptimizer: sgd({ lr: ALPHA }),
      weighting: uniform(),
      iteration: 0,
    });
    const flat = flattenParams(result.metaGradient);
    const values = Float64Array.from(flat.dataSync());
    tf.dispose(flat);
    disposeParams(result.metaGradient);
    return values;
  } finally {
    disposeParams(params);
    for (const task of tasks) tf.dispose([task.support.x, task.support.y, task.query.x, task.query.y]);
  }
}

// The float64 references are computed once and shared by both backends.
await tf.setBackend("cpu");
const theta = randomTheta(1);
const tasks = referenceTasks(2, 2);
const objective = (t: Float64Array) => referenceMetaObjective(net, t, tasks, ALPHA);

/** Directional derivatives of the meta-objective along a few random unit directions, and a few coordinates. */
const probes = (() => {
  const rng = createRng(3);
  const directions: Float64Array[] = [];
  for (let d = 0; d < 3; d++) {
    const v = Float64Array.from({ length: theta.length }, () => rng.normal());
    const norm = Math.hypot(...v);
    directions.push(v.map((x) => x / norm));
  }
  // One coordinate in every parameter tensor: the first entry of each.
  let offset = 0;
  for (const { shape: s } of net.layout) {
    const v = new Float64Array(theta.length);
    v[offset] = 1;
    directions.push(v);
    offset += s.reduce((a, b) => a * b, 1);
  }
  const h = 1e-4;
  const slopes = directions.map((v) => {
    const plus = objective(theta.map((x, i) => x + h * v[i]!));
    const minus = objective(theta.map((x, i) => x - h * v[i]!));
    return (plus - minus) / (2 * h);
  });
  return { directions, slopes };
})();

/** FOMAML reference: ∇_θ' L_query(θ') at θ' = θ − α ∇L_support(θ), averaged over tasks (float64). */
const firstOrderReference = (() => {
  const total = new Float64Array(theta.length);
  for (const task of tasks) {
    const grad = referenceGradient(net, theta, task.support);
    const adapted = theta.map((x, i) => x - ALPHA * grad[i]!);
    referenceGradient(net, adapted, task.query).forEach((g, i) => (total[i]! += g / tasks.length));
  }
  return total;
})();

const dot = (a: Float64Array, b: Float64Array) => a.reduce((s, x, i) => s + x * b[i]!, 0);

describeEachBackend("MAML on a reduced convNet (2 blocks, 4 filters, 8×8, 3-way) vs float64", () => {
  it("second order: the meta-gradient's directional derivatives equal finite differences of the meta-objective", () => {
    const d = metaGradient(2, theta, tasks);
    const projected = probes.directions.map((v) => dot(d, v));
    expect(relativeError(projected, probes.slopes)).toBeLessThan(1e-4);
  });

  it("first order: the meta-gradient equals ∇L_query at the adapted parameters", () => {
    const d = metaGradient(1, theta, tasks);
    expect(relativeError(d, firstOrderReference)).toBeLessThan(1e-5);
    // ...and differs from the true (second-order) gradient, so the two tests tell them apart.
    const projected = probes.directions.map((v) => dot(d, v));
    expect(relativeError(projected, probes.slopes)).toBeGreaterThan(0.1);
  });

  it("the meta-objective itself matches (tf adapted-query loss vs float64)", () => {
    const params = toParams(theta);
    const [task] = toTasks(tasks.slice(0, 1));
    const adapted = tf.tidy(() => {
      const names = Object.keys(params);
      const loss = (...values: tf.Tensor[]) =>
        softmaxCrossEntropy().loss(model.forward(Object.fromEntries(names.map((n, i) => [n, values[i]!])), task!.support.x), task!.support.y);
      const grads = tf.grads(loss)(names.map((n) => params[n]!));
      return Object.fromEntries(names.map((n, i) => [n, tf.sub(params[n]!, tf.mul(grads[i]!, ALPHA))]));
    });
    const tfLoss = tf.tidy(() => softmaxCrossEntropy().loss(model.forward(adapted, task!.query.x), task!.query.y).dataSync()[0]!);
    const grad = referenceGradient(net, theta, tasks[0]!.support);
    const expected = referenceLoss(
      net,
      theta.map((x, i) => x - ALPHA * grad[i]!),
      tasks[0]!.query,
    );
    expect(Math.abs(tfLoss - expected) / Math.abs(expected)).toBeLessThan(1e-4);
    disposeParams(params);
    disposeParams(adapted);
    tf.dispose([task!.support.x, task!.support.y, task!.query.x, task!.query.y]);
  });
});

// Batched execution (convNet.forwardBatched: im2col + batched matMuls, per-task batch norm) must give
// the per-task meta-gradients; second order is also checked against the float64 finite differences.
describeEachBackend("batched execution on the reduced convNet equals per-task execution", () => {
  const threeTasks = referenceTasks(3, 4);

  it("second order: batched == per-task, and its directional derivatives equal finite differences of the meta-objective", () => {
    const before = tf.memory().numTensors;
    const batched = metaGradient(2, theta, tasks, "batched");
    expect(tf.memory().numTensors).toBe(before);
    expect(relativeError(batched, metaGradient(2, theta, tasks, "per-task"), 1e-6)).toBeLessThan(1e-5);
    const projected = probes.directions.map((v) => dot(batched, v));
    expect(relativeError(projected, probes.slopes)).toBeLessThan(1e-4);
    expect(relativeError(metaGradient(2, theta, threeTasks, "batched"), metaGradient(2, theta, threeTasks, "per-task"), 1e-6)).toBeLessThan(1e-5);
  });

  it("first order: batched == per-task == the float64 FOMAML gradient", () => {
    const batched = metaGradient(1, theta, tasks, "batched");
    expect(relativeError(batched, firstOrderReference)).toBeLessThan(1e-5);
    expect(relativeError(metaGradient(1, theta, threeTasks, "batched"), metaGradient(1, theta, threeTasks, "per-task"), 1e-6)).toBeLessThan(1e-5);
  });

  it("Reptile (3 inner steps): batched == per-task, and nonzero", () => {
    const run = (execution: ExecutionOption) => metaStep(reptile({ innerSteps: 3, execution }), theta, threeTasks);
    const batched = run("batched");
    expect(batched.some((v) => Math.abs(v) > 1e-4)).toBe(true);
    expect(relativeError(batched, run("per-task"), 1e-6)).toBeLessThan(1e-5);
  });
});
