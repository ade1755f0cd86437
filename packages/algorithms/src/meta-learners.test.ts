// Meta-SGD (learned per-element inner rates) and ANIL (head-only adaptation) against the independent
// float64 MLP: finite differences of the meta-objective (the rates' gradient included), hand
// backpropagation for first order, independently computed agreement weights.
import { ConcordError, disposeParams, type MetaAlgorithm, type Model, type Params, type WeightingScheme } from "@concord/core";
import { describeEachBackend, finiteDifference, relativeError, tensorGrowth } from "@concord/core/testing";
import { meanSquaredError, mlp, softmaxCrossEntropy } from "@concord/models";
import { metaSgd, sgd } from "@concord/optimizers";
import { gradientAgreement, uniform } from "@concord/weighting";
import { expect, it } from "vitest";
import { evaluateAdaptation, type ExecutionOption, maml, reptile } from "./index.js";
import { disposeTasks, flatValues, randomTasks, randomTheta, toParams, toTasks } from "./testing/fixtures.js";
import {
  agreementWeights,
  elementwiseFirstOrder,
  elementwiseObjective,
  elementwiseUpdates,
  headMask,
  parameterCount,
  type ReferenceNet,
  type ReferenceTask,
} from "./testing/reference-mlp.js";

const ALPHA = 0.1;
const STEPS = 2;

const setups: { title: string; net: ReferenceNet }[] = [
  { title: "ReLU MLP regressor, MSE", net: { sizes: [1, 8, 8, 1], activation: "relu", loss: "mse" } },
  { title: "tanh MLP classifier, cross-entropy", net: { sizes: [2, 6, 3], activation: "tanh", loss: "cross-entropy" } },
];

/** One rate per element in [0.05, 0.15], float32-rounded like θ. */
function randomRates(net: ReferenceNet, seed: number): Float64Array {
  const theta = randomTheta(net, seed);
  return Float64Array.from(Float32Array.from(theta, (v) => 0.1 + 0.05 * Math.tanh(v)));
}

/** [θ, a] as one map: the model's parameters, then `lr/<name>` (Meta-SGD's layout). */
function metaSgdParams(net: ReferenceNet, theta: Float64Array, rates: Float64Array): Params {
  const model = toParams(net, theta);
  const lr = Object.fromEntries(Object.entries(toParams(net, rates)).map(([name, value]) => [`lr/${name}`, value]));
  return { ...model, ...lr };
}

interface Run {
  readonly net: ReferenceNet;
  readonly params: Params;
  readonly tasks: ReferenceTask[];
  readonly algorithm: MetaAlgorithm;
  readonly weighting: WeightingScheme;
  readonly innerOptimizer: ReturnType<typeof sgd> | ReturnType<typeof metaSgd>;
}

/** One meta-step; d as a float64 vector in the map's key order, and the weights used. Disposes `params`. */
function metaStep({ net, params, tasks: reference, algorithm, weighting, innerOptimizer }: Run) {
  const tasks = toTasks(net, reference);
  const model = mlp({ sizes: [...net.sizes], activation: net.activation });
  const objective = net.loss === "mse" ? meanSquaredError() : softmaxCrossEntropy();
  try {
    const result = algorithm.step({ params, tasks, model, objective, innerOptimizer, weighting, iteration: 0 });
    const values = flatValues(result.metaGradient);
    const keys = Object.keys(result.metaGradient);
    disposeParams(result.metaGradient);
    return { values, keys, weights: [...result.metrics.weights] };
  } finally {
    disposeParams(params);
    disposeTasks(tasks);
  }
}

const weightings = { uniform: () => uniform(), agreement: () => gradientAgreement() } as const;

describeEachBackend("Meta-SGD and ANIL meta-gradients against an independent float64 MLP", () => {
  for (const { title, net } of setups) {
    const count = parameterCount(net);
    const theta = randomTheta(net, 1);
    const rates = randomRates(net, 5);
    const alphas = new Float64Array(count).fill(ALPHA);
    const tasks = randomTasks(net, 4, 6, 2);
    const head = headMask(net);
    const uniformWeights = tasks.map(() => 1 / tasks.length);

    /** The weights the reference uses: uniform, or agreement computed from its own g_i = θ − θ'_i. */
    const referenceWeights = (scheme: keyof typeof weightings, stepRates: Float64Array, mask?: Uint8Array) =>
      scheme === "uniform" ? uniformWeights : agreementWeights(elementwiseUpdates(net, theta, stepRates, tasks, STEPS, mask));

    for (const execution of ["per-task", "batched"] as ExecutionOption[]) {
      for (const scheme of ["uniform", "agreement"] as const) {
        it(`${title}, ${execution}, ${scheme}: second-order Meta-SGD (θ and the rates) equals finite differences of the meta-objective`, () => {
          const { values, keys, weights } = metaStep({
            net,
            params: metaSgdParams(net, theta, rates),
            tasks,
            algorithm: maml({ order: 2, innerSteps: STEPS, execution }),
            weighting: weightings[scheme](),
            innerOptimizer: metaSgd({ lr: 0.1 }),
          });
          expect(keys.slice(keys.length / 2)).toEqual(keys.slice(0, keys.length / 2).map((name) => `lr/${name}`));
          const expectedWeights = referenceWeights(scheme, rates);
          // The weighting saw g_i over the model's parameters only (the rates' entries are zero).
          expect(relativeError(weights, expectedWeights)).toBeLessThan(1e-4);
          if (scheme === "agreement") expect(weights.some((w) => Math.abs(w - 0.25) > 1e-3)).toBe(true);
          const both = Float64Array.from([...theta, ...rates]);
          const expected = finiteDifference((x) => elementwiseObjective(net, x, tasks, expectedWeights, STEPS), both, 1e-5);
          expect(relativeError(values.subarray(count), expected.subarray(count))).toBeLessThan(2e-3); // the rates' gradient on its own scale
          expect(relativeError(values, expected)).toBeLessThan(2e-3);
        });

        it(`${title}, ${execution}, ${scheme}: second-order ANIL (head adapted) equals finite differences of the meta-objective`, () => {
          const { values, weights } = metaStep({
            net,
            params: toParams(net, theta),
            tasks,
            algorithm: maml({ order: 2, innerSteps: STEPS, execution, adapt: "head" }),
            weighting: weightings[scheme](),
            innerOptimizer: sgd({ lr: ALPHA }),
          });
          const expectedWeights = referenceWeights(scheme, alphas, head);
          expect(relativeError(weights, expectedWeights)).toBeLessThan(1e-4);
          const objective = (t: Float64Array) => elementwiseObjective(net, Float64Array.from([...t, ...alphas]), tasks, expectedWeights, STEPS, head);
          const expected = finiteDifference(objective, theta, 1e-5);
          expect(
            relativeError(values.subarray(0, count - head.reduce((a, b) => a + b, 0)), expected.subarray(0, count - head.reduce((a, b) => a + b, 0))),
          ).toBeLessThan(2e-3); // the body
          expect(relativeError(values, expected)).toBeLessThan(2e-3);
        });

        it(`${title}, ${execution}, ${scheme}: first-order Meta-SGD and ANIL equal hand backpropagation (rates: zero)`, () => {
          const fometa = metaStep({
            net,
            params: metaSgdParams(net, theta, rates),
            tasks,
            algorithm: maml({ order: 1, innerSteps: STEPS, execution }),
            weighting: weightings[scheme](),
            innerOptimizer: metaSgd({ lr: 0.1 }),
          });
          const metaWeights = referenceWeights(scheme, rates);
          expect(relativeError(fometa.values.subarray(0, count), elementwiseFirstOrder(net, theta, rates, tasks, metaWeights, STEPS))).toBeLessThan(1e-4);
          expect(Array.from(fometa.values.subarray(count)).every((v) => v === 0)).toBe(true);

          const foanil = metaStep({
            net,
            params: toParams(net, theta),
            tasks,
            algorithm: maml({ order: 1, innerSteps: STEPS, execution, adapt: "head" }),
            weighting: weightings[scheme](),
            innerOptimizer: sgd({ lr: ALPHA }),
          });
          const anilWeights = referenceWeights(scheme, alphas, head);
          expect(relativeError(foanil.weights, anilWeights)).toBeLessThan(1e-4);
          expect(relativeError(foanil.values, elementwiseFirstOrder(net, theta, alphas, tasks, anilWeights, STEPS, head))).toBeLessThan(1e-4);
        });
      }
    }

    it(`${title}: ANIL Reptile moves only the head, by Σ w_i (θ − θ'_i)`, () => {
      const { values } = metaStep({
        net,
        params: toParams(net, theta),
        tasks,
        algorithm: reptile({ innerSteps: STEPS, adapt: "head" }),
        weighting: uniform(),
        innerOptimizer: sgd({ lr: ALPHA }),
      });
      const updates = elementwiseUpdates(net, theta, alphas, tasks, STEPS, head);
      const expected = theta.map((_, p) => updates.reduce((sum, g) => sum + g[p]! / tasks.length, 0));
      expect(relativeError(values, expected)).toBeLessThan(1e-4);
      expect(Array.from(values).every((v, p) => head[p] || v === 0)).toBe(true);
    });

    it(`${title}: Meta-SGD with ANIL gives the body's rates zero gradient and the head's rates their finite difference`, () => {
      const { values } = metaStep({
        net,
        params: metaSgdParams(net, theta, rates),
        tasks,
        algorithm: maml({ order: 2, innerSteps: STEPS, adapt: "head" }),
        weighting: uniform(),
        innerOptimizer: metaSgd({ lr: 0.1 }),
      });
      const both = Float64Array.from([...theta, ...rates]);
      const expected = finiteDifference((x) => elementwiseObjective(net, x, tasks, uniformWeights, STEPS, head), both, 1e-5);
      expect(relativeError(values, expected)).toBeLessThan(2e-3);
      expect(Array.from(values.subarray(count)).every((v, p) => head[p] || v === 0)).toBe(true);
    });
  }
});

describeEachBackend("Meta-SGD and ANIL: bad input and tensor counts", () => {
  const net: ReferenceNet = { sizes: [1, 8, 1], activation: "relu", loss: "mse" };
  const model = mlp({ sizes: [1, 8, 1] });
  const context = (
    params: Params,
    tasks: ReturnType<typeof toTasks>,
    options: { model?: Model; innerOptimizer?: ReturnType<typeof sgd> | ReturnType<typeof metaSgd> } = {},
  ) => ({
    params,
    tasks,
    model: options.model ?? model,
    objective: meanSquaredError(),
    innerOptimizer: options.innerOptimizer ?? sgd({ lr: ALPHA }),
    weighting: uniform(),
    iteration: 0,
  });

  it('rejects an adapt option naming an unknown parameter, a malformed one, and "head" on a model without a head', () => {
    const params = toParams(net, randomTheta(net, 1));
    const tasks = toTasks(net, randomTasks(net, 2, 4, 3));
    const headless: Model = { name: "headless", init: model.init, forward: model.forward, forwardBatched: model.forwardBatched };
    try {
      const unknown = () => maml({ adapt: ["layer1/weight", "layer9/bias"] }).step(context(params, tasks));
      expect(unknown).toThrow(ConcordError);
      expect(unknown).toThrow(
        /^adapt: expected names of model parameters \[layer0\/weight, layer0\/bias, layer1\/weight, layer1\/bias\], got unknown \[layer9\/bias\]/,
      );
      expect(() => maml({ adapt: "body" as "head" })).toThrow(/^adapt: expected "all", "head" or a non-empty array of parameter names, got "body"/);
      expect(() => reptile({ adapt: [] })).toThrow(/^adapt: /);
      expect(() => maml({ adapt: "head" }).step(context(params, tasks, { model: headless }))).toThrow(
        /^adapt: model 'headless' does not say which parameters form its head/,
      );
      const evaluation = () =>
        evaluateAdaptation(params, {
          model: headless,
          objective: meanSquaredError(),
          innerOptimizer: sgd({ lr: ALPHA }),
          sampler: { name: "never", sample: () => [] },
          maxInnerSteps: 1,
          seed: 0,
          adapt: "head",
        });
      expect(evaluation).toThrow(/^adapt: model 'headless'/);
      // Meta-SGD without its rates in the map (parameters not made with withInnerOptimizerParams).
      expect(() => maml().step(context(params, tasks, { innerOptimizer: metaSgd({ lr: 0.1 }) }))).toThrow(/^params: expected the rate 'lr\/layer0\/weight'/);
    } finally {
      disposeParams(params);
      disposeTasks(tasks);
    }
  });

  it("keeps tf.memory().numTensors flat over meta-steps of Meta-SGD and ANIL (first and second order, per-task and batched)", () => {
    const theta = randomTheta(net, 2);
    const params = metaSgdParams(net, theta, randomRates(net, 3));
    const plain = toParams(net, theta);
    const tasks = toTasks(net, randomTasks(net, 3, 4, 4));
    const algorithms = [1, 2].flatMap((order) =>
      (["per-task", "batched"] as const).flatMap((execution) => [
        { algorithm: maml({ order: order as 1 | 2, execution }), params, innerOptimizer: metaSgd({ lr: 0.1 }) },
        { algorithm: maml({ order: order as 1 | 2, execution, adapt: "head" }), params: plain, innerOptimizer: sgd({ lr: ALPHA }) },
      ]),
    );
    try {
      for (const { algorithm, params: start, innerOptimizer } of algorithms) {
        const growth = tensorGrowth(() => {
          const result = algorithm.step({ ...context(start, tasks, { innerOptimizer }), weighting: gradientAgreement() });
          disposeParams(result.metaGradient);
        }, 3);
        expect(growth).toBe(0);
      }
    } finally {
      disposeParams(params);
      disposeParams(plain);
      disposeTasks(tasks);
    }
  });
});
