import { execFileSync } from "node:child_process";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";
import * as tf from "@tensorflow/tfjs-core";
import { ConcordError, createRng, disposeParams, type MetaAlgorithm, type Params } from "@concord/core";
import { describeEachBackend } from "@concord/core/testing";
import { meanSquaredError, mlp } from "@concord/models";
import { sgd } from "@concord/optimizers";
import { uniform } from "@concord/weighting";
import { afterAll, beforeAll, expect, it } from "vitest";
import { maml, reptile } from "../index.js";
import type { RunnableTaskPool } from "./pool-contract.js";
import { createTaskPool, type TaskPool } from "./task-pool.js";

const SIZES = [1, 8, 8, 1];
const INNER_LR = 0.05;
const setup = new URL("./testing/pool-setup.mjs", import.meta.url);

/**
 * Three meta-iterations of `algorithm` from a fixed seed; returns the final θ as plain numbers.
 * Tasks of different sizes (so they cannot be batched: the per-task path) unless `batchable`.
 */
function train(algorithm: MetaAlgorithm, batchable = false): number[][] {
  const rng = createRng(5);
  const model = mlp({ sizes: SIZES });
  let params: Params = model.init(rng);
  const outer = sgd({ lr: 0.1 });
  for (let iteration = 0; iteration < 3; iteration++) {
    const tasks = Array.from({ length: 6 }, (_, i) => {
      const set = (k: number) => {
        const x = rng.normalArray(k, 1);
        return {
          x: tf.tensor2d(x, [k, 1]),
          y: tf.tensor2d(
            x.map((v) => Math.sin(v + i)),
            [k, 1],
          ),
        };
      };
      return { support: set(batchable ? 4 : 4 + i), query: set(5) };
    });
    const { metaGradient } = algorithm.step({
      params,
      tasks,
      model,
      objective: meanSquaredError(),
      innerOptimizer: sgd({ lr: INNER_LR }),
      weighting: uniform(),
      iteration,
    });
    const next = outer.apply(params, metaGradient);
    disposeParams(metaGradient);
    disposeParams(params);
    params = next;
    for (const task of tasks) tf.dispose([task.support.x, task.support.y, task.query.x, task.query.y]);
  }
  const values = Object.values(params).map((value) => Array.from(value.dataSync()));
  disposeParams(params);
  return values;
}

beforeAll(() => {
  // Worker threads run plain Node on the compiled packages.
  const tsc = createRequire(import.meta.url).resolve("typescript/bin/tsc");
  execFileSync(process.execPath, [tsc, "-b"], { cwd: fileURLToPath(new URL("../..", import.meta.url)), stdio: "pipe" });
}, 120_000);

describeEachBackend("TaskPool: tasks shared out to worker threads", (backend) => {
  let pool: TaskPool;
  beforeAll(async () => {
    pool = await createTaskPool({ setup, setupOptions: { sizes: SIZES, lr: INNER_LR }, threads: 3, backend });
  });
  afterAll(async () => {
    await pool.close();
  });

  const algorithms: [string, (pool?: TaskPool) => MetaAlgorithm][] = [
    ["second-order MAML", (p) => maml({ order: 2, execution: "per-task", diagnostics: false, ...(p ? { pool: p } : {}) })],
    ["first-order MAML", (p) => maml({ order: 1, execution: "per-task", diagnostics: false, ...(p ? { pool: p } : {}) })],
    ["Reptile", (p) => reptile({ innerSteps: 2, execution: "per-task", diagnostics: false, ...(p ? { pool: p } : {}) })],
  ];
  for (const [title, make] of algorithms) {
    it(`${title}: parallel and sequential runs give identical parameters`, () => {
      const sequential = train(make());
      const before = tf.memory().numTensors;
      const parallel = train(make(pool));
      expect(tf.memory().numTensors).toBe(before);
      expect(parallel).toEqual(sequential);
      expect(sequential.flat().some((v) => v !== 0)).toBe(true);
    });
  }

  const batchedAlgorithms: [string, (pool?: TaskPool) => MetaAlgorithm][] = [
    ["second-order MAML", (p) => maml({ order: 2, execution: "batched", chunkSize: 2, diagnostics: false, ...(p ? { pool: p } : {}) })],
    ["first-order MAML", (p) => maml({ order: 1, execution: "batched", chunkSize: 4, diagnostics: false, ...(p ? { pool: p } : {}) })],
    ["Reptile", (p) => reptile({ innerSteps: 2, execution: "batched", chunkSize: 2, diagnostics: false, ...(p ? { pool: p } : {}) })],
  ];
  for (const [title, make] of batchedAlgorithms) {
    it(`${title}, batched in chunks: chunks shared out to the workers give the sequential chunks' parameters`, () => {
      // Records what the meta-step asks of the pool: chunks of the algorithm's chunkSize.
      const runnable = pool as RunnableTaskPool;
      const chunkSizes: (number | undefined)[] = [];
      const recording: RunnableTaskPool = {
        ...runnable,
        dispatch: (...args) => {
          chunkSizes.push(args[4]);
          return runnable.dispatch(...args);
        },
      };
      const sequential = train(make(), true);
      const before = tf.memory().numTensors;
      const parallel = train(make(recording), true);
      expect(tf.memory().numTensors).toBe(before);
      expect(chunkSizes.length).toBe(3);
      expect(new Set(chunkSizes).size).toBe(1);
      expect(chunkSizes[0]).toBeGreaterThan(1);
      expect(parallel).toEqual(sequential);
      expect(sequential.flat().some((v) => v !== 0)).toBe(true);
    });
  }

  it("rejects a meta-step whose model differs from the workers' setup", () => {
    const other = mlp({ sizes: SIZES, name: "other" });
    const params = other.init(createRng(1));
    const task = () => ({ x: tf.ones([3, 1]), y: tf.ones([3, 1]) });
    const tasks = [0, 1, 2].map(() => ({ support: task(), query: task() }));
    const step = () =>
      maml({ order: 1, execution: "per-task", pool }).step({
        params,
        tasks,
        model: other,
        objective: meanSquaredError(),
        innerOptimizer: sgd({ lr: INNER_LR }),
        weighting: uniform(),
        iteration: 0,
      });
    expect(step).toThrow(ConcordError);
    expect(step).toThrow(/model is 'mlp', the meta-step's is 'other'/);
    disposeParams(params);
    for (const t of tasks) tf.dispose([t.support.x, t.support.y, t.query.x, t.query.y]);
  });
});
