// The meta-step refuses to differentiate what Concord's gradients do not cover, instead of training
// on tfjs's own gradients (silently wrong at second order for several kernels) or failing deep in tfjs.
import * as tf from "@tensorflow/tfjs-core";
import { installConcord, isConcordInstalled, uninstallConcord } from "@concord/backend";
import { createRng, disposeParams, type MetaAlgorithm, type Model, type Objective, type Params, type Task } from "@concord/core";
import { catchConcordError, describeEachBackend } from "@concord/core/testing";
import { convNet, meanSquaredError, mlp, softmaxCrossEntropy } from "@concord/models";
import { sgd } from "@concord/optimizers";
import { sinusoid } from "@concord/tasks";
import { uniform } from "@concord/weighting";
import { afterEach, expect, it } from "vitest";
import { maml, reptile } from "./index.js";

/** What a new user writes: an MLP with SELU, an op outside Concord's gradient set. */
function seluModel(): Model {
  const inner = mlp({ sizes: [1, 8, 1] });
  return {
    name: "my-selu-mlp",
    init: (rng) => inner.init(rng),
    forward: (params, x) =>
      tf.tidy(() =>
        tf.add(tf.matMul(tf.selu(tf.add(tf.matMul(x, params["layer0/weight"]!), params["layer0/bias"]!)), params["layer1/weight"]!), params["layer1/bias"]!),
      ),
  };
}

function step(algorithm: MetaAlgorithm, model: Model, objective: Objective, tasks: readonly Task[]): void {
  const params: Params = model.init(createRng(1));
  try {
    const result = algorithm.step({ params, tasks, model, objective, innerOptimizer: sgd({ lr: 0.01 }), weighting: uniform(), iteration: 0 });
    disposeParams(result.metaGradient);
  } finally {
    disposeParams(params);
  }
}

const ALGORITHMS: [string, () => MetaAlgorithm][] = [
  ["maml", () => maml({ order: 2 })],
  ["fomaml", () => maml({ order: 1, execution: "per-task" })],
  ["reptile", () => reptile({ innerSteps: 2 })],
];

function imageTasks(count: number, rng = createRng(5)): Task[] {
  const batch = () => ({ x: tf.tensor4d(rng.normalArray(3 * 8 * 8, 1), [3, 8, 8, 1]), y: tf.tensor1d([0, 1, 2], "int32") });
  return Array.from({ length: count }, () => ({ support: batch(), query: batch() }));
}

/** The same task with each image as a flat row, for an MLP (labels shared with `task`). */
const flatten = (task: Task): Task => ({
  support: { x: tf.reshape(task.support.x, [3, 64]), y: task.support.y },
  query: { x: tf.reshape(task.query.x, [3, 64]), y: task.query.y },
});

const disposeTasks = (tasks: readonly Task[]) => tf.dispose(tasks.flatMap((t) => [t.support.x, t.support.y, t.query.x, t.query.y]));

describeEachBackend("the meta-step's gradient guard", () => {
  afterEach(() => {
    installConcord(); // a failed test must not leave the others without Concord's gradients
  });

  for (const [name, make] of ALGORITHMS) {
    it(`${name}: a model using tf.selu gets a ConcordError naming Selu and the model, and leaks nothing`, () => {
      const tasks = sinusoid().sample(2, createRng(2));
      const before = tf.memory().numTensors;
      const error = catchConcordError(() => step(make(), seluModel(), meanSquaredError(), tasks));
      expect(error.field).toBe("model");
      expect(error.message).toMatch(/^model: model 'my-selu-mlp' uses the Selu kernel, which has no Concord gradient/);
      expect(error.message).toMatch(/SUPPORTED_KERNELS from @concord\/backend/);
      expect(tf.memory().numTensors).toBe(before);
      disposeTasks(tasks);
    });

    it(`${name}: without Concord's gradients installed the step refuses and names useBackend; after installConcord it runs`, () => {
      const tasks = sinusoid().sample(2, createRng(3));
      const model = mlp({ sizes: [1, 8, 1] });
      const objective = meanSquaredError();
      step(make(), model, objective, tasks); // checked and cached for this model and objective
      uninstallConcord();
      expect(isConcordInstalled()).toBe(false);
      const error = catchConcordError(() => step(make(), model, objective, tasks));
      expect(error.field).toBe("backend");
      expect(error.message).toMatch(/Concord's gradient set is not installed: call `await useBackend\(\)` from @concord\/backend before training/);
      installConcord();
      step(make(), model, objective, tasks);
      disposeTasks(tasks);
    });
  }

  it("tfjs's own gradient for a kernel counts as missing (e.g. after something re-registered it)", () => {
    const tasks = sinusoid().sample(2, createRng(4));
    const tanh = tf.getGradient("Tanh")!;
    tf.registerGradient({ ...tanh }); // same maths, not Concord's object: the guard cannot vouch for it
    expect(isConcordInstalled()).toBe(false);
    expect(catchConcordError(() => step(maml(), mlp({ sizes: [1, 4, 1], activation: "tanh" }), meanSquaredError(), tasks)).field).toBe("backend");
    disposeTasks(tasks);
  });

  it("the built-in models and objectives pass: mlp + mse / cross-entropy (batched and per-task), convNet + cross-entropy (labels' OneHot/Cast are not flagged)", () => {
    const sine = sinusoid().sample(2, createRng(6));
    const images = imageTasks(2);
    const flat = images.map(flatten);
    const before = tf.memory().numTensors;
    const net = () => convNet({ ways: 3, inputShape: [8, 8, 1], filters: 4, blocks: 2 });
    for (const execution of ["batched", "per-task"] as const) {
      step(maml({ execution }), mlp({ sizes: [1, 8, 1] }), meanSquaredError(), sine);
      step(maml({ execution }), mlp({ sizes: [64, 8, 3] }), softmaxCrossEntropy(), flat);
    }
    step(maml(), net(), softmaxCrossEntropy(), images);
    step(maml({ order: 1 }), net(), softmaxCrossEntropy(), images);
    step(reptile({ innerSteps: 1 }), net(), softmaxCrossEntropy(), images);
    expect(tf.memory().numTensors).toBe(before);
    disposeTasks([...sine, ...images, ...flat]);
  });
});
