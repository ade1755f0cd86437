// protoNet against an independent float64 computation: the reduced convNet embedding with
// support-set batch norm (the models package's float64 reference), prototypes, distances and
// cross-entropy written out in plain loops; ∇ by central differences; agreement weights by the
// paper's formula.
import * as tf from "@tensorflow/tfjs-core";
import { ConcordError, createRng, flattenParams, type Params, type Task, type TaskSampler } from "@concord/core";
import { describeEachBackend, finiteDifference, relativeError, tensorGrowth } from "@concord/core/testing";
import { convNet, softmaxCrossEntropy } from "@concord/models";
import { sgd } from "@concord/optimizers";
import { gradientAgreement, uniform } from "@concord/weighting";
import { expect, it } from "vitest";
import { type ReferenceBatch, referenceConvNet, referenceForward } from "../../models/src/testing/reference-conv-net.js";
import { evaluatePrototypes, protoNet } from "./index.js";
import { agreementWeights } from "./testing/reference-mlp.js";

const shape: [number, number, number] = [8, 8, 1];
const architecture = { inputShape: shape, filters: 4, blocks: 2 };
const model = convNet({ ways: 0, ...architecture, batchNorm: "support" });
const net = referenceConvNet({ ...architecture, ways: 0 });
const objective = softmaxCrossEntropy();

interface ReferenceEpisode {
  readonly support: ReferenceBatch;
  readonly query: ReferenceBatch;
}

/** An episode of `ways` classes: `shots` support and `queries` query images per class, labels grouped by class. */
function randomEpisode(ways: number, shots: number, queries: number, seed: number): ReferenceEpisode {
  const rng = createRng(seed);
  const set = (perClass: number): ReferenceBatch => {
    const count = ways * perClass;
    const labels = Array.from({ length: count }, (_, i) => Math.floor(i / perClass));
    // Each class has its own brightness pattern, so the task is learnable but not trivial.
    const x = Float64Array.from({ length: count * 64 }, (_, p) => Math.fround(rng.uniform(0, 1) * (1 + labels[Math.floor(p / 64)]! * ((p % 64) / 64))));
    return { x, count, labels };
  };
  return { support: set(shots), query: set(queries) };
}

function toTask(episode: ReferenceEpisode): Task {
  const batch = (b: ReferenceBatch) => ({ x: tf.tensor4d(Float32Array.from(b.x), [b.count, ...shape]), y: tf.tensor1d([...b.labels], "int32") });
  return { support: batch(episode.support), query: batch(episode.query) };
}

function disposeTasks(tasks: readonly Task[]): void {
  for (const task of tasks) tf.dispose([task.support.x, task.support.y, task.query.x, task.query.y]);
}

/** Random parameters (every entry perturbed, float32-exact) as tensors and as a float64 vector. */
function randomParams(seed: number): { params: Params; theta: Float64Array } {
  const rng = createRng(seed);
  const init = model.init(rng);
  const params: Record<string, tf.Tensor> = {};
  for (const [name, value] of Object.entries(init))
    params[name] = tf.tidy(() => tf.add(value, tf.tensor(rng.normalArray(value.size, 0.3), value.shape, "float32")));
  tf.dispose(Object.values(init));
  return { params, theta: Float64Array.from(flattenParams(params).dataSync()) };
}

/** Snell et al.'s loss in float64: mean over queries of −log softmax(−‖e_q − c_k‖²)[y_q]; also the accuracy. */
function referenceEpisode(theta: Float64Array, episode: ReferenceEpisode): { loss: number; accuracy: number } {
  const supportEmbedding = referenceForward(net, theta, episode.support, episode.support);
  const queryEmbedding = referenceForward(net, theta, episode.query, episode.support);
  const dimensions = supportEmbedding.length / episode.support.count;
  const classes = Math.max(...episode.support.labels) + 1;
  const prototypes = Array.from({ length: classes }, () => new Float64Array(dimensions));
  const counts = new Array<number>(classes).fill(0);
  episode.support.labels.forEach((label, i) => {
    counts[label]! += 1;
    for (let d = 0; d < dimensions; d++) prototypes[label]![d]! += supportEmbedding[i * dimensions + d]!;
  });
  prototypes.forEach((prototype, k) => prototype.forEach((_, d) => (prototype[d]! /= counts[k]!)));
  let loss = 0;
  let correct = 0;
  episode.query.labels.forEach((label, q) => {
    const logits = prototypes.map((prototype) => -prototype.reduce((sum, c, d) => sum + (queryEmbedding[q * dimensions + d]! - c) ** 2, 0));
    const max = Math.max(...logits);
    loss += max + Math.log(logits.reduce((sum, z) => sum + Math.exp(z - max), 0)) - logits[label]!;
    if (logits.indexOf(max) === label) correct += 1;
  });
  return { loss: loss / episode.query.count, accuracy: correct / episode.query.count };
}

function metaStep(params: Params, tasks: readonly Task[], weighting = uniform()) {
  const result = protoNet().step({ params, tasks, model, objective, innerOptimizer: sgd({ lr: 0.1 }), weighting, iteration: 0 });
  const flat = flattenParams(result.metaGradient);
  const d = Float64Array.from(flat.dataSync());
  flat.dispose();
  tf.dispose(Object.values(result.metaGradient));
  return { d, metrics: result.metrics };
}

describeEachBackend("protoNet", () => {
  it("has the float64 reference's query loss, and d = mean ∇L_i by central differences (uniform weights)", () => {
    const episodes = [randomEpisode(3, 2, 2, 1), randomEpisode(3, 1, 3, 2), randomEpisode(4, 2, 1, 3)];
    const { params, theta } = randomParams(4);
    const tasks = episodes.map(toTask);
    const { d, metrics } = metaStep(params, tasks);
    const losses = episodes.map((episode) => referenceEpisode(theta, episode).loss);
    const meanLoss = losses.reduce((a, b) => a + b, 0) / losses.length;
    expect(Math.abs(metrics.queryLossAfter - meanLoss) / meanLoss).toBeLessThan(1e-5);
    expect(metrics.weights).toEqual([1, 1, 1].map(() => Math.fround(1 / 3)));
    const reference = finiteDifference((t) => episodes.reduce((sum, episode) => sum + referenceEpisode(t, episode).loss, 0) / episodes.length, theta, 1e-6);
    expect(reference.some((v) => Math.abs(v) > 1e-3)).toBe(true);
    expect(relativeError(d, reference)).toBeLessThan(1e-3);
    disposeTasks(tasks);
    tf.dispose(Object.values(params));
  });

  it("gives gradient agreement g_i = ∇L_i: w by the paper's formula on those, d = Σ w_i ∇L_i", () => {
    const episodes = [randomEpisode(3, 2, 2, 11), randomEpisode(3, 2, 2, 12), randomEpisode(3, 2, 2, 13)];
    const { params, theta } = randomParams(14);
    const tasks = episodes.map(toTask);
    const { d, metrics } = metaStep(params, tasks, gradientAgreement());
    const perTask = episodes.map((episode) => finiteDifference((t) => referenceEpisode(t, episode).loss, theta, 1e-6));
    const weights = agreementWeights(perTask);
    expect(relativeError(metrics.weights, weights, 1e-2)).toBeLessThan(1e-3);
    expect(weights.some((w) => Math.abs(w - 1 / 3) > 1e-3)).toBe(true);
    const expected = theta.map((_, p) => perTask.reduce((sum, g, i) => sum + weights[i]! * g[p]!, 0));
    expect(relativeError(d, expected)).toBeLessThan(1e-3);
    disposeTasks(tasks);
    tf.dispose(Object.values(params));
  });

  it("scores held-out tasks with the prototype classifier: per-task loss and accuracy of the float64 reference", () => {
    const { params, theta } = randomParams(21);
    const drawn: ReferenceEpisode[] = [];
    const sampler: TaskSampler = {
      name: "reference-episodes",
      sample: (count, rng) =>
        Array.from({ length: count }, () => {
          const episode = randomEpisode(3, 2, 3, rng.int(1_000_000));
          drawn.push(episode);
          return toTask(episode);
        }),
    };
    const result = evaluatePrototypes(params, {
      model,
      objective,
      innerOptimizer: sgd({ lr: 0.1 }),
      sampler,
      taskCount: 5,
      chunkSize: 2,
      maxInnerSteps: 3,
      seed: 7,
    });
    expect(result.taskCount).toBe(5);
    expect(result.loss.map((s) => s.step)).toEqual([0]);
    const expected = drawn.map((episode) => referenceEpisode(theta, episode));
    expect(
      relativeError(
        result.perTaskLoss[0]!,
        expected.map((e) => e.loss),
      ),
    ).toBeLessThan(1e-5);
    expect(result.perTaskAccuracy![0]).toEqual(expected.map((e) => Math.fround(e.accuracy)));
    tf.dispose(Object.values(params));
  });

  it("rejects a support set without an example of some class, and empty meta-batches, with ConcordErrors", () => {
    const { params } = randomParams(31);
    const episode = randomEpisode(3, 1, 1, 32);
    const gap: ReferenceEpisode = { support: { ...episode.support, labels: [0, 2, 2] }, query: episode.query };
    const tasks = [toTask(gap)];
    const error = (() => {
      try {
        metaStep(params, tasks);
      } catch (caught) {
        return caught as ConcordError;
      }
      return undefined;
    })();
    expect(error).toBeInstanceOf(ConcordError);
    expect(error!.field).toBe("labels");
    expect(error!.message).toMatch(/class 1/);
    expect(() => metaStep(params, [])).toThrow(ConcordError);
    disposeTasks(tasks);
    tf.dispose(Object.values(params));
  });

  it("leaves no tensors behind over meta-steps", () => {
    const { params } = randomParams(41);
    const tasks = [randomEpisode(3, 2, 2, 42), randomEpisode(3, 2, 2, 43)].map(toTask);
    expect(tensorGrowth(() => metaStep(params, tasks), 3)).toBe(0);
    expect(tensorGrowth(() => metaStep(params, tasks, gradientAgreement()), 3)).toBe(0);
    disposeTasks(tasks);
    tf.dispose(Object.values(params));
  });
});
