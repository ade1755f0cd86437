// Data-parallel meta-batches against a real redis-server and real `concord worker` processes: the
// coordinator is the built CLI (`concord train --queue`), so the test thread stays free to kill
// workers, Redis and the coordinator itself while meta-steps are in flight. Every distributed run
// must end with exactly the parameters of the single-process run of the same (per-task) config.
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { buildFingerprint, type ExperimentConfigInput, parseConfig, readMetrics, runExperiment } from "@concord/runner";
import { useBackend } from "@concord/backend";
import * as tf from "@tensorflow/tfjs-core";
import { type Job, Queue } from "bullmq";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { bullConnection, parseRedisUrl } from "./connection.js";
import { TASK_JOB_VERSION, TASK_QUEUE_NAME } from "./tasks/protocol.js";
import { queueTrainConfig } from "./tasks/train-config.js";
import { type CliProcess, finalParams, startCli, startWorkerProcess, type WorkerProcess, waitFor } from "./testing/cli-processes.js";
import { redisServerAvailable, startRedis, stopProcess, type TestRedis } from "./testing/redis-server.js";

const PASSWORD = "dp pass";
/** What `concord worker --log-chunks` prints as it takes a chunk (it holds the chunk's lock from then on). */
const CHUNK_STARTED = /^worker: chunk \S+ \(tasks /;

/** Small, but a task takes a few ms on cpu, so chunks are in flight when something is killed. */
function config(iterations: number): ExperimentConfigInput {
  return {
    seed: 11,
    iterations,
    metaBatchSize: 6,
    backend: "cpu",
    weighting: "agreement",
    algorithm: { name: "maml", order: 2, innerSteps: 3 },
    model: { name: "mlp", sizes: [1, 32, 32, 1], init: "pytorch" },
    tasks: { name: "sinusoid", supportSize: 10, querySize: 20 },
    objective: "mse",
    innerOptimizer: { name: "sgd", lr: 0.01 },
    outerOptimizer: { name: "adam", lr: 0.003 },
    evaluation: { tasks: 6, innerSteps: 2 },
    checkpointEvery: 4,
    logEvery: 4,
  };
}

describe.runIf(redisServerAvailable())("data-parallel meta-batches on a real redis-server", () => {
  let redis: TestRedis;
  let root: string;
  const workers: WorkerProcess[] = [];
  const coordinators: CliProcess[] = [];
  /** config file → the single-process run's folder (per-task execution, the same config). */
  const references = new Map<number, string>();

  beforeAll(async () => {
    await useBackend("cpu");
    redis = await startRedis({ password: PASSWORD });
    root = mkdtempSync(join(tmpdir(), "concord-data-parallel-"));
    for (const iterations of [6, 24]) {
      writeFileSync(join(root, `config-${iterations}.json`), JSON.stringify(config(iterations)));
      const outDir = join(root, `reference-${iterations}`);
      const result = await runExperiment(queueTrainConfig(parseConfig(config(iterations))), { outDir, progress: "none" });
      tf.dispose(Object.values(result.params));
      references.set(iterations, outDir);
    }
  }, 120_000);

  afterAll(async () => {
    for (const process_ of [...workers, ...coordinators]) await stopProcess(process_.child, "SIGKILL");
    await redis?.stop();
  });

  const addWorkers = async (count: number) => {
    const started = Array.from({ length: count }, () => startWorkerProcess(redis.url, join(root, "store"), ["--log-chunks"]));
    workers.push(...started);
    await Promise.all(started.map((worker) => worker.ready));
    return started;
  };
  const train = (iterations: number, outDir: string, extra: readonly string[] = []) => {
    const coordinator = startCli([
      "train",
      join(root, `config-${iterations}.json`),
      "--queue",
      redis.url,
      "--out",
      outDir,
      "--progress",
      "none",
      "--chunk-tasks",
      "1",
      ...extra,
    ]);
    coordinators.push(coordinator);
    return coordinator;
  };
  const expectSameAsReference = (iterations: number, outDir: string) => {
    const reference = references.get(iterations)!;
    expect(finalParams(join(outDir, "checkpoint.ckpt"))).toEqual(finalParams(join(reference, "checkpoint.ckpt")));
    expect(readFileSync(join(outDir, "evaluation.json"), "utf8")).toBe(readFileSync(join(reference, "evaluation.json"), "utf8"));
    const losses = (folder: string) => readMetrics(join(folder, "metrics.jsonl")).map((record) => [record.iteration, record.queryLossAfter, record.weightMin]);
    expect(losses(outDir)).toEqual(losses(reference));
    expect(readdirSync(outDir).filter((name) => name.includes(".tmp"))).toEqual([]);
  };
  const chunksTaken = (worker: CliProcess) =>
    worker
      .output()
      .split("\n")
      .filter((line) => CHUNK_STARTED.test(line)).length;
  /** Its last chunk line is a start with no "computed" line after it: it is computing that chunk. */
  const holdsUnfinishedChunk = (worker: CliProcess) => {
    const chunkLines = worker
      .output()
      .split("\n")
      .filter((line) => line.startsWith("worker: "));
    return CHUNK_STARTED.test(chunkLines.at(-1) ?? "");
  };

  it("1 and 3 workers give the single-process run's parameters bit for bit", async () => {
    await addWorkers(1);
    const one = train(6, join(root, "one-worker"));
    expect(await one.exited, one.output()).toBe(0);
    expect(one.stdout()).toMatch(/queue: 6 meta-steps through Redis; per step [\d.]+ KiB to workers, [\d.]+ KiB back/);
    expectSameAsReference(6, join(root, "one-worker"));

    await addWorkers(2);
    const before = workers.map(chunksTaken);
    const three = train(6, join(root, "three-workers"));
    expect(await three.exited, three.output()).toBe(0);
    expectSameAsReference(6, join(root, "three-workers"));
    // 6 steps × 6 chunks: every worker took part.
    const taken = workers.map((worker, i) => chunksTaken(worker) - before[i]!);
    expect(taken.reduce((a, b) => a + b, 0)).toBeGreaterThanOrEqual(36);
    expect(taken.filter((count) => count > 0).length).toBeGreaterThanOrEqual(2);
  }, 180_000);

  it("a worker SIGKILLed mid-run: its chunks are redone elsewhere and the parameters do not change", async () => {
    const outDir = join(root, "worker-killed");
    const coordinator = train(24, outDir);
    const victim = workers[0]!;
    // A few iterations in, kill it while it holds a chunk's lock. A chunk takes only milliseconds, so
    // the victim is frozen first and killed only if its last line is a chunk it has not finished.
    let seen = chunksTaken(victim) + 7;
    for (;;) {
      const after = seen;
      await waitFor(
        () => chunksTaken(victim) > after,
        60_000,
        () => victim.output(),
        coordinator.exited,
      );
      victim.child.kill("SIGSTOP");
      await new Promise((resolve) => setTimeout(resolve, 100)); // lines it wrote before the stop arrive
      if (holdsUnfinishedChunk(victim)) break;
      seen = chunksTaken(victim);
      victim.child.kill("SIGCONT");
    }
    await stopProcess(victim.child, "SIGKILL");
    workers.splice(0, 1);
    expect(await coordinator.exited, coordinator.output()).toBe(0);
    // BullMQ found the dead worker's lock expired and another worker redid the chunk.
    expect(coordinator.stdout()).toMatch(/; [1-9]\d* chunks taken over from dead workers/);
    expectSameAsReference(24, outDir);
    await addWorkers(1);
  }, 180_000);

  it("Redis restarted mid-run (everything in it lost): the coordinator writes the step again and goes on", async () => {
    const outDir = join(root, "redis-restarted");
    const coordinator = train(24, outDir);
    await waitFor(
      () => existsSync(join(outDir, "checkpoint.ckpt")),
      60_000,
      () => coordinator.output(),
      coordinator.exited,
    );
    // Kill it as a step's first chunk starts: the step's other chunks are still queued or running.
    const firstChunks = () => workers.reduce((count, worker) => count + (worker.output().match(/^worker: chunk [0-9a-f]+-\d+-0 /gm)?.length ?? 0), 0);
    const seen = firstChunks();
    await waitFor(
      () => firstChunks() > seen,
      60_000,
      () => coordinator.output(),
      coordinator.exited,
    );
    await redis.kill();
    await new Promise((resolve) => setTimeout(resolve, 500));
    await redis.start();
    expect(await coordinator.exited, coordinator.output()).toBe(0);
    expect(coordinator.stdout()).toMatch(/[1-9]\d* resubmitted after Redis lost them/);
    expectSameAsReference(24, outDir);
  }, 180_000);

  it("Redis gone for longer than --queue-timeout: the run stops with its checkpoint intact, and --resume completes it identically", async () => {
    const outDir = join(root, "redis-gone");
    const coordinator = train(24, outDir, ["--queue-timeout", "2"]);
    await waitFor(
      () => existsSync(join(outDir, "checkpoint.ckpt")),
      60_000,
      () => coordinator.output(),
      coordinator.exited,
    );
    await redis.kill();
    const code = await coordinator.exited;
    expect(code).not.toBe(0);
    expect(coordinator.output()).toMatch(/--queue: meta-step on the queue failed: Redis at redis:\/\/:\*\*\*@127\.0\.0\.1:\d+\/? has been unreachable/);
    expect(coordinator.output()).not.toContain(encodeURIComponent(PASSWORD));
    const stoppedAt = finalParams(join(outDir, "checkpoint.ckpt"));
    expect(Object.keys(stoppedAt).length).toBeGreaterThan(0);
    await redis.start();
    const resumed = train(24, outDir, ["--resume"]);
    expect(await resumed.exited, resumed.output()).toBe(0);
    expectSameAsReference(24, outDir);
  }, 180_000);

  it("the coordinator SIGKILLed mid-run: --resume continues to the same parameters", async () => {
    const outDir = join(root, "coordinator-killed");
    const coordinator = train(24, outDir);
    await waitFor(
      () => existsSync(join(outDir, "checkpoint.ckpt")),
      60_000,
      () => coordinator.output(),
      coordinator.exited,
    );
    await stopProcess(coordinator.child, "SIGKILL");
    const resumed = train(24, outDir, ["--resume"]);
    expect(await resumed.exited, resumed.output()).toBe(0);
    expectSameAsReference(24, outDir);
  }, 180_000);

  it("refuses chunk jobs naming a plug-in the worker does not have, and malformed ones, without retrying", async () => {
    const queue = new Queue(TASK_QUEUE_NAME, { connection: bullConnection(parseRedisUrl(redis.url)) });
    try {
      const good = {
        version: TASK_JOB_VERSION,
        build: buildFingerprint(),
        config: config(6),
        backend: "cpu",
        session: "00112233445566778899aabb",
        step: 0,
        chunk: 0,
        start: 0,
        end: 1,
        taskCount: 1,
        kind: "first-order",
        innerSteps: 1,
        names: { model: "mlp", objective: "mse", innerOptimizer: "sgd" },
        deadlineMs: 60_000,
      };
      const cases: [unknown, RegExp][] = [
        [
          { ...good, config: { ...config(6), model: { name: "evil-model" } } },
          /job\.config\.model: the job names the model plug-in "evil-model", which this worker does not have/,
        ],
        [{ ...good, config: { ...config(6), weighting: { name: "uniform", plugin: "/tmp/evil.js" } } }, /job\.config\.weighting\.plugin: unknown field/],
        [{ ...good, session: "../../keys" }, /job\.session: expected a hex session id/],
        [{ ...good, end: 5 }, /job\.end: expected an integer from 1 to 1/],
        [{ ...good, kind: "eval" }, /job\.kind/],
        [{ ...good, deadlineMs: 0 }, /job\.deadlineMs: expected an integer from 1000 to 604800000, got 0/],
        [{ ...good, code: "process.exit()" }, /job: unknown field "code"/],
        [{ ...good, build: "0123456789abcdef" }, /job\.build: the job comes from Concord build "0123456789abcdef", this worker is build "[0-9a-f]{16}"/],
      ];
      for (const [data, reason] of cases) {
        const job = await queue.add("bad", data, { attempts: 3 });
        const failed = await finished(queue, job.id!);
        expect(failed.failedReason).toMatch(reason);
        expect(failed.attemptsMade).toBe(1);
      }
    } finally {
      await queue.close();
    }
  }, 60_000);
});

async function finished(queue: Queue, id: string): Promise<Job> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const state = await queue.getJobState(id);
    if (state === "failed" || state === "completed") return (await queue.getJob(id))!;
    if (Date.now() > deadline) throw new Error(`job ${id} is still ${state}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}
