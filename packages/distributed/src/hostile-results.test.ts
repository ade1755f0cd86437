// The coordinator's check of what workers send back, against a real redis-server: a worker process
// (src/testing/tampering-worker.mjs) computes each chunk honestly with the real code, then damages the
// result in one way; the meta-step must stop with a ConcordError naming the chunk, leaking no tensor.
import { spawn } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ConcordError, createRng, type MetaAlgorithm, type Task } from "@concord/core";
import { createRegistry, type ExperimentConfigInput, parseConfig, runExperiment } from "@concord/runner";
import { useBackend } from "@concord/backend";
import * as tf from "@tensorflow/tfjs-core";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseRedisUrl } from "./connection.js";
import { createQueuePool, type QueuePool } from "./tasks/queue-pool.js";
import { queueTrainConfig } from "./tasks/train-config.js";
import { type CliProcess, finalParams, waitFor } from "./testing/cli-processes.js";
import { redisServerAvailable, startRedis, stopProcess, type TestRedis } from "./testing/redis-server.js";

const QUEUE = "concord-tasks-tampered";

const config = (iterations: number): ExperimentConfigInput => ({
  seed: 5,
  iterations,
  metaBatchSize: 4,
  backend: "cpu",
  weighting: "agreement",
  algorithm: { name: "maml", order: 1, innerSteps: 1, execution: "per-task" },
  model: { name: "mlp", sizes: [1, 6, 1], init: "pytorch" },
  tasks: { name: "sinusoid", supportSize: 5, querySize: 5 },
  objective: "mse",
  innerOptimizer: { name: "sgd", lr: 0.01 },
  outerOptimizer: { name: "adam", lr: 0.01 },
  evaluation: { tasks: 4, innerSteps: 1 },
  checkpointEvery: 1,
  logEvery: 1,
});

function startTamperingWorker(url: string): CliProcess & { ready: Promise<void> } {
  const child = spawn(process.execPath, [new URL("./testing/tampering-worker.mjs", import.meta.url).pathname, url, QUEUE], {
    stdio: ["ignore", "ignore", "pipe"],
  });
  let output = "";
  child.stderr!.on("data", (chunk: Buffer) => {
    output += chunk.toString();
  });
  const exited = new Promise<number | null>((resolve) => child.once("exit", resolve));
  const ready = waitFor(
    () => output.includes("tampering worker: ready"),
    60_000,
    () => output,
    exited,
  );
  return { child, output: () => output, stdout: () => "", exited, ready };
}

describe.runIf(redisServerAvailable())("the coordinator checks every chunk result against what it asked for", () => {
  let redis: TestRedis;
  let root: string;
  let worker: ReturnType<typeof startTamperingWorker>;
  let control: Redis;
  let pool: QueuePool;

  beforeAll(async () => {
    await useBackend("cpu");
    redis = await startRedis();
    root = mkdtempSync(join(tmpdir(), "concord-tampered-"));
    worker = startTamperingWorker(redis.url);
    await worker.ready;
    control = new Redis(parseRedisUrl(redis.url).options);
    pool = await createQueuePool({ url: redis.url, config: queueTrainConfig(parseConfig(config(2))), chunkTasks: 2, queueName: QUEUE });
  }, 120_000);

  afterAll(async () => {
    await pool?.close();
    control?.disconnect();
    if (worker) await stopProcess(worker.child, "SIGKILL");
    await redis?.stop();
  });

  const train = (outDir: string) => runExperiment(queueTrainConfig(parseConfig(config(2))), { outDir, pool, progress: "none" });

  /** One meta-step of the config's algorithm on the queue pool, with fixed tasks (what a training loop calls). */
  const metaStep = () => {
    const parsed = queueTrainConfig(parseConfig(config(2)));
    const registry = createRegistry();
    const model = registry.create("model", parsed.model, "model");
    const objective = registry.create("objective", parsed.objective, "objective");
    const innerOptimizer = registry.create("innerOptimizer", parsed.innerOptimizer, "innerOptimizer");
    const weighting = registry.create("weighting", parsed.weighting, "weighting");
    const algorithm = registry.create("algorithm", parsed.algorithm, "algorithm", { pool }) as MetaAlgorithm;
    const params = model.init(createRng(1));
    const tasks: Task[] = Array.from({ length: 4 }, (_, i) => ({
      support: { x: tf.fill([5, 1], i + 1), y: tf.fill([5, 1], -i) },
      query: { x: tf.fill([5, 1], i + 2), y: tf.fill([5, 1], i) },
    }));
    return {
      run: () => algorithm.step({ params, tasks, model, objective, innerOptimizer, weighting, iteration: 0 }),
      dispose: () => tf.dispose([...Object.values(params), ...tasks.flatMap((task) => [task.support.x, task.support.y, task.query.x, task.query.y])]),
    };
  };

  it("an honest worker's results (in their envelope) give the single-process run's parameters bit for bit", async () => {
    await control.set("concord-test:tamper", "none");
    const queued = await train(join(root, "honest"));
    tf.dispose(Object.values(queued.params));
    const local = await runExperiment(queueTrainConfig(parseConfig(config(2))), { outDir: join(root, "local"), progress: "none" });
    tf.dispose(Object.values(local.params));
    expect(finalParams(join(root, "honest", "checkpoint.ckpt"))).toEqual(finalParams(join(root, "local", "checkpoint.ckpt")));
  });

  const chunkRefused = /--queue: the result of chunk \d+ of step \d+ \(tasks \d+–\d+\) is refused: /;
  const cases: [mode: string, reason: RegExp][] = [
    ["other-indices", /indices are \[\d+,\d+\], expected \d+ to \d+ in order/],
    ["renamed-parameter", /adapted\[0\] parameter 0 is "evil\/weight", expected "[^"]+"/],
    ["reshaped-parameter", /taskGradients\[0\] "[^"]+" has shape \[\d+,\d+\], expected \[\d+,\d+\]/],
    ["int32-bytes", /adapted\[0\] "[^"]+" has dtype "int32", expected float32/],
    ["missing-gradients", /taskGradients: expected 2 entries/],
    ["extra-field", /result has an unexpected field "error"/],
    ["stale-theta", /computed from another θ than this step's/],
    ["other-chunk", /it answers session "[0-9a-f]+" step \d+ chunk \d+/],
  ];

  it.each(cases)("a %s result stops the meta-step with a ConcordError naming the chunk, leaking no tensor", async (mode, reason) => {
    await control.set("concord-test:tamper", mode);
    const step = metaStep();
    try {
      const before = tf.memory().numTensors;
      let error: unknown;
      try {
        step.run();
      } catch (caught) {
        error = caught;
      }
      expect(error).toBeInstanceOf(ConcordError);
      expect((error as Error).message).toMatch(chunkRefused);
      expect((error as Error).message).toMatch(reason);
      expect(tf.memory().numTensors).toBe(before);
    } finally {
      step.dispose();
    }
  });

  it("a run stopped by a refused result keeps its last checkpoint, and --resume with honest workers ends as the single-process run", async () => {
    await control.set("concord-test:tamper", "none");
    const outDir = join(root, "stopped");
    const longer = queueTrainConfig(parseConfig(config(4)));
    const local = await runExperiment(longer, { outDir: join(root, "local-4"), progress: "none" });
    tf.dispose(Object.values(local.params));
    // Honest for the first two steps, then tampered: the run stops after its checkpoint at iteration 2.
    const first = await runExperiment(queueTrainConfig(parseConfig(config(2))), { outDir, pool, progress: "none" });
    tf.dispose(Object.values(first.params));
    await control.set("concord-test:tamper", "reshaped-parameter");
    const error = await runExperiment(longer, { outDir, pool, progress: "none", resume: true }).catch((caught: unknown) => caught);
    expect((error as Error).message).toMatch(chunkRefused);
    await control.set("concord-test:tamper", "none");
    const resumed = await runExperiment(longer, { outDir, pool, progress: "none", resume: true });
    tf.dispose(Object.values(resumed.params));
    expect(finalParams(join(outDir, "checkpoint.ckpt"))).toEqual(finalParams(join(root, "local-4", "checkpoint.ckpt")));
  });

  it("a result that is not a packed payload is refused, naming the chunk", async () => {
    await control.set("concord-test:tamper", "not-packed");
    const error = await train(join(root, "not-packed")).catch((caught: unknown) => caught);
    expect((error as Error).message).toMatch(/result of chunk \d+ of step \d+: expected a packed Concord payload/);
  });
});
