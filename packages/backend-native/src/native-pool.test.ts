// Parallel == sequential, bit for bit, with the native kernels: a task pool started on "native"
// gives its workers the same kernels (useBackend("native")), and the addon's results do not depend
// on how many threads share a call.
import { execFileSync } from "node:child_process";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";
import * as tf from "@tensorflow/tfjs-core";
import { maml } from "@concord/algorithms";
import { createTaskPool, type TaskPool } from "@concord/algorithms/node";
import { activeBackendChoice, nativeKernels } from "@concord/backend";
import { createRng, disposeParams, type MetaAlgorithm, type Params } from "@concord/core";
import { convNet, softmaxCrossEntropy } from "@concord/models";
import { sgd } from "@concord/optimizers";
import { uniform } from "@concord/weighting";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { nativeCalls } from "../test/counting-kernels.js";

const CONV_NET = { ways: 3, inputShape: [12, 12, 1] as const, filters: 16, blocks: 2 };
const INNER_LR = 0.4;

/** Two meta-iterations of second-order MAML on a small CNN from a fixed seed; the final θ as numbers. */
function train(algorithm: MetaAlgorithm): number[][] {
  const rng = createRng(7);
  const model = convNet(CONV_NET);
  let params: Params = model.init(rng);
  const outer = sgd({ lr: 0.1 });
  for (let iteration = 0; iteration < 2; iteration++) {
    const set = (count: number) => ({
      x: tf.tensor4d(rng.normalArray(count * 144, 1), [count, 12, 12, 1]),
      y: tf.tensor1d(
        Array.from({ length: count }, (_, i) => i % 3),
        "int32",
      ),
    });
    const tasks = Array.from({ length: 4 }, () => ({ support: set(3), query: set(6) }));
    const { metaGradient } = algorithm.step({
      params,
      tasks,
      model,
      objective: softmaxCrossEntropy(),
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

describe("task pool on the native kernels", () => {
  let pool: TaskPool;
  beforeAll(async () => {
    // Worker threads run plain Node on the compiled packages (this one's loader included).
    const tsc = createRequire(import.meta.url).resolve("typescript/bin/tsc");
    execFileSync(process.execPath, [tsc, "-b"], { cwd: fileURLToPath(new URL("..", import.meta.url)), stdio: "pipe" });
    expect(await tf.setBackend("wasm")).toBe(true);
    await tf.ready();
    expect(nativeKernels()).toBeDefined();
    expect(activeBackendChoice()).toBe("native");
    pool = await createTaskPool({
      setup: new URL("../test/pool-setup.mjs", import.meta.url),
      setupOptions: { convNetOptions: CONV_NET, lr: INNER_LR },
      threads: 2,
    });
  }, 240_000);
  afterAll(async () => {
    await pool?.close();
  });

  it("starts its workers on 'native' (the current choice)", () => {
    expect(pool.backend).toBe("native");
  });

  it("second-order MAML on a CNN: parallel and sequential runs give identical parameters", () => {
    const calls = nativeCalls.sgemm;
    const secondOrderCalls = nativeCalls.batchNormGradGrad;
    const sequential = train(maml({ order: 2, execution: "per-task", diagnostics: false }));
    expect(nativeCalls.sgemm).toBeGreaterThan(calls);
    // batch norm's second-order kernel, too: the workers' must give the same bits
    expect(nativeCalls.batchNormGradGrad).toBeGreaterThan(secondOrderCalls);
    const before = tf.memory().numTensors;
    const parallel = train(maml({ order: 2, execution: "per-task", diagnostics: false, pool }));
    expect(tf.memory().numTensors).toBe(before);
    expect(parallel).toEqual(sequential);
    expect(sequential.flat().every(Number.isFinite)).toBe(true);
  });
});
