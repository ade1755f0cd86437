import * as tf from "@tensorflow/tfjs-core";
import { disposeParams, type MetaAlgorithm, type Params, type WeightingScheme } from "@concord/core";
import { describeEachBackend, finiteDifference, relativeError } from "@concord/core/testing";
import { meanSquaredError, mlp, softmaxCrossEntropy } from "@concord/models";
import { sgd } from "@concord/optimizers";
import { gradientAgreement, uniform } from "@concord/weighting";
import { expect, it } from "vitest";
import { type ExecutionOption, maml, reptile } from "./index.js";
import { disposeTasks, flatValues, randomTasks, randomTheta, toParams, toTasks } from "./testing/fixtures.js";
import { firstOrderMetaGradient, mamlObjective, type ReferenceNet, type ReferenceTask, reptileDirection } from "./testing/reference-mlp.js";

const ALPHA = 0.1;
const STEPS = 2;

const setups: { title: string; net: ReferenceNet }[] = [
  { title: "ReLU MLP regressor, MSE", net: { sizes: [1, 8, 8, 1], activation: "relu", loss: "mse" } },
  { title: "tanh MLP classifier, cross-entropy", net: { sizes: [2, 6, 3], activation: "tanh", loss: "cross-entropy" } },
];

/** Runs one meta-step of `algorithm` and returns d as a float64 vector. */
function metaGradient(net: ReferenceNet, theta: Float64Array, reference: ReferenceTask[], algorithm: MetaAlgorithm, weighting: WeightingScheme) {
  const params = toParams(net, theta);
  const tasks = toTasks(net, reference);
  const model = mlp({ sizes: [...net.sizes], activation: net.activation });
  const objective = net.loss === "mse" ? meanSquaredError() : softmaxCrossEntropy();
  try {
    const result = algorithm.step({ params, tasks, model, objective, innerOptimizer: sgd({ lr: ALPHA }), weighting, iteration: 0 });
    const values = flatValues(result.metaGradient);
    disposeParams(result.metaGradient);
    return { values, weights: result.metrics.weights };
  } finally {
    disposeParams(params);
    disposeTasks(tasks);
  }
}

describeEachBackend("meta-gradients against an independent float64 MLP", () => {
  for (const { title, net } of setups) {
    const theta = randomTheta(net, 1);
    const tasks = randomTasks(net, 4, 6, 2);
    const uniformWeights = tasks.map(() => 1 / tasks.length);

    for (const execution of ["per-task", "batched"] as ExecutionOption[]) {
      it(`${title}, ${execution}: second-order MAML equals finite differences of the meta-objective`, () => {
        const { values } = metaGradient(net, theta, tasks, maml({ order: 2, innerSteps: STEPS, execution }), uniform());
        const expected = finiteDifference((t) => mamlObjective(net, t, tasks, uniformWeights, ALPHA, STEPS), theta, 1e-5);
        expect(relativeError(values, expected)).toBeLessThan(2e-3);
      });

      it(`${title}, ${execution}: first-order MAML equals the hand-backpropagated FOMAML gradient`, () => {
        const { values } = metaGradient(net, theta, tasks, maml({ order: 1, innerSteps: STEPS, execution }), uniform());
        expect(relativeError(values, firstOrderMetaGradient(net, theta, tasks, uniformWeights, ALPHA, STEPS))).toBeLessThan(1e-4);
      });

      it(`${title}, ${execution}: Reptile direction equals Σ w_i (θ − θ'_i)`, () => {
        const { values } = metaGradient(net, theta, tasks, reptile({ innerSteps: STEPS, execution }), uniform());
        expect(relativeError(values, reptileDirection(net, theta, tasks, uniformWeights, ALPHA, STEPS))).toBeLessThan(1e-4);
      });

      it(`${title}, ${execution}: gradient-agreement weights enter the second-order meta-gradient exactly`, () => {
        const { values, weights } = metaGradient(net, theta, tasks, maml({ order: 2, innerSteps: STEPS, execution }), gradientAgreement());
        expect(weights.some((w) => Math.abs(w - 0.25) > 1e-3)).toBe(true); // not uniform: a real test of weighting
        const expected = finiteDifference((t) => mamlObjective(net, t, tasks, [...weights], ALPHA, STEPS), theta, 1e-5);
        expect(relativeError(values, expected)).toBeLessThan(2e-3);
      });
    }

    it(`${title}: batched and task-by-task paths agree to 1e-5`, () => {
      for (const algorithm of [
        (execution: ExecutionOption) => maml({ order: 2, innerSteps: STEPS, execution }),
        (execution: ExecutionOption) => reptile({ innerSteps: STEPS, execution }),
      ]) {
        const batched = metaGradient(net, theta, tasks, algorithm("batched"), gradientAgreement());
        const perTask = metaGradient(net, theta, tasks, algorithm("per-task"), gradientAgreement());
        expect(relativeError(batched.values, perTask.values, 1e-6)).toBeLessThan(1e-5);
      }
    });

    it(`${title}: batched in chunks (4 tasks as 3 + 1, and 2 + 2) equals one batched pass, and leaks nothing`, () => {
      const algorithms = [
        (chunkSize?: number) => maml({ order: 2, innerSteps: STEPS, execution: "batched", ...(chunkSize ? { chunkSize } : {}) }),
        (chunkSize?: number) => maml({ order: 1, innerSteps: STEPS, execution: "batched", ...(chunkSize ? { chunkSize } : {}) }),
        (chunkSize?: number) => reptile({ innerSteps: STEPS, execution: "batched", ...(chunkSize ? { chunkSize } : {}) }),
      ];
      for (const algorithm of algorithms) {
        const whole = metaGradient(net, theta, tasks, algorithm(), gradientAgreement());
        for (const chunkSize of [3, 2, 1]) {
          const before = tf.memory().numTensors;
          const chunked = metaGradient(net, theta, tasks, algorithm(chunkSize), gradientAgreement());
          expect(tf.memory().numTensors).toBe(before);
          expect(relativeError(chunked.values, whole.values, 1e-6)).toBeLessThan(1e-5);
          chunked.weights.forEach((w, i) => expect(w).toBeCloseTo(whole.weights[i]!, 5));
        }
      }
    });

    it(`${title}: chunks bound memory: second-order MAML in chunks of one task peaks lower than one batched pass`, async () => {
      const peak = async (chunkSize?: number) =>
        (
          await tf.profile(() => {
            metaGradient(net, theta, tasks, maml({ order: 2, innerSteps: STEPS, execution: "batched", ...(chunkSize ? { chunkSize } : {}) }), uniform());
          })
        ).peakBytes;
      const [whole, chunked] = [await peak(), await peak(1)];
      expect(chunked).toBeLessThan(0.75 * whole);
    });

    it(`${title}: uniform weighting is plain averaged MAML/Reptile, and GA with one task equals it`, () => {
      for (const algorithm of [maml({ order: 2, innerSteps: STEPS }), maml({ order: 1, innerSteps: STEPS }), reptile({ innerSteps: STEPS })]) {
        const averaged = new Float64Array(theta.length);
        for (const task of tasks) {
          const single = metaGradient(net, theta, [task], algorithm, uniform()).values;
          const singleAgreement = metaGradient(net, theta, [task], algorithm, gradientAgreement()).values;
          expect(Array.from(singleAgreement)).toEqual(Array.from(single));
          single.forEach((v, i) => {
            averaged[i]! += v / tasks.length;
          });
        }
        const batch = metaGradient(net, theta, tasks, algorithm, uniform()).values;
        expect(relativeError(batch, averaged, 1e-6)).toBeLessThan(1e-5);
      }
    });
  }

  it("second order differs measurably from first order on a ReLU MLP", () => {
    const { net } = setups[0]!;
    const theta = randomTheta(net, 3);
    const tasks = randomTasks(net, 4, 6, 4);
    const second = metaGradient(net, theta, tasks, maml({ order: 2, innerSteps: STEPS }), uniform()).values;
    const first = metaGradient(net, theta, tasks, maml({ order: 1, innerSteps: STEPS }), uniform()).values;
    expect(relativeError(first, second)).toBeGreaterThan(0.02);
  });
});

describeEachBackend("a one-weight linear model, derived by hand", () => {
  // f(x) = w·x + b, one support point (xs, ys), one query point (xq, yq), one SGD step of size α.
  const [w, b, xs, ys, xq, yq, alpha] = [0.5, -0.25, 1.5, 2, -1, 0.5, 0.1];
  const rs = w * xs + b - ys; // support residual
  const wAdapted = w - alpha * 2 * rs * xs;
  const bAdapted = b - alpha * 2 * rs;
  const rq = wAdapted * xq + bAdapted - yq; // query residual at θ'
  // dθ'/dθ = I − α·H_support, H_support = 2 [[xs², xs], [xs, 1]]
  const secondOrder = [2 * rq * xq * (1 - 2 * alpha * xs * xs) + 2 * rq * (-2 * alpha * xs), 2 * rq * xq * (-2 * alpha * xs) + 2 * rq * (1 - 2 * alpha)];
  const firstOrder = [2 * rq * xq, 2 * rq];
  const reptileStep = [w - wAdapted, b - bAdapted];

  function run(algorithm: MetaAlgorithm): number[] {
    const params: Params = { "layer0/weight": tf.tensor2d([[w]]), "layer0/bias": tf.tensor1d([b]) };
    const task = { support: { x: tf.tensor2d([[xs]]), y: tf.tensor2d([[ys]]) }, query: { x: tf.tensor2d([[xq]]), y: tf.tensor2d([[yq]]) } };
    const model = mlp({ sizes: [1, 1], activation: "none" });
    const result = algorithm.step({
      params,
      tasks: [task],
      model,
      objective: meanSquaredError(),
      innerOptimizer: sgd({ lr: alpha }),
      weighting: uniform(),
      iteration: 0,
    });
    const values = Array.from(flatValues(result.metaGradient));
    disposeParams(result.metaGradient);
    disposeParams(params);
    disposeTasks([task]);
    return values;
  }

  it("second-order MAML", () => {
    run(maml({ order: 2 })).forEach((v, i) => expect(v).toBeCloseTo(secondOrder[i]!, 5));
  });
  it("first-order MAML", () => {
    run(maml({ order: 1 })).forEach((v, i) => expect(v).toBeCloseTo(firstOrder[i]!, 5));
  });
  it("Reptile", () => {
    run(reptile({ innerSteps: 1 })).forEach((v, i) => expect(v).toBeCloseTo(reptileStep[i]!, 6));
  });
});
