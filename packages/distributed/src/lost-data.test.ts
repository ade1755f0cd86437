// Redis losing data without a disconnect, and work that never ends, against real redis-servers and
// real `concord worker` processes (issue 20, finding 5): a FLUSHALL mid-step is noticed and the step
// written again (the run ends bit-identical to the single-process run), a compute thread that hangs is
// stopped at the chunk's deadline, and a server whose maxmemory-policy evicts keys is refused. (A
// sweep's run job lost the same way is re-added: fencing.test.ts.)
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ConcordError } from "@concord/core";
import { compareExperiment, type ExperimentConfigInput, parseConfig, readMetrics, runExperiment } from "@concord/runner";
import { useBackend } from "@concord/backend";
import * as tf from "@tensorflow/tfjs-core";
import { Queue } from "bullmq";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { bullConnection, parseRedisUrl } from "./connection.js";
import { queueScheduler } from "./coordinator.js";
import { checkEvictionPolicy } from "./eviction-policy.js";
import { chunkDeadlineMs, FIRST_STEP_DEADLINE_MS, MIN_DERIVED_DEADLINE_MS } from "./tasks/chunk-deadline.js";
import { TASK_QUEUE_NAME } from "./tasks/protocol.js";
import { queueTrainConfig } from "./tasks/train-config.js";
import { CLI, type CliProcess, finalParams, startCli, startWorkerProcess, type WorkerProcess, waitFor } from "./testing/cli-processes.js";
import { redisServerAvailable, startRedis, stopProcess, type TestRedis } from "./testing/redis-server.js";

const HANG_PLUGIN = new URL("./testing/hang-plugin.mjs", import.meta.url).pathname;

function config(objective = "mse"): ExperimentConfigInput {
  return {
    seed: 5,
    iterations: 12,
    metaBatchSize: 6,
    backend: "cpu",
    weighting: "agreement",
    algorithm: { name: "maml", order: 2, innerSteps: 2 },
    model: { name: "mlp", sizes: [1, 24, 24, 1], init: "pytorch" },
    tasks: { name: "sinusoid", supportSize: 10, querySize: 10 },
    objective,
    innerOptimizer: { name: "sgd", lr: 0.01 },
    outerOptimizer: { name: "adam", lr: 0.003 },
    evaluation: { tasks: 4, innerSteps: 2 },
    checkpointEvery: 4,
    logEvery: 4,
  };
}

/** Polls `condition` every 50 ms until it holds (true) or `ms` pass (false). */
async function pollUntil(condition: () => Promise<boolean>, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (await condition()) return true;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return false;
}

describe("chunk deadlines derived from the work", () => {
  it("is the explicit value when given, 10 minutes before any step finished, then 20× the previous step's slowest chunk, at least 60 s", () => {
    expect(chunkDeadlineMs(2500, undefined)).toBe(2500);
    expect(chunkDeadlineMs(2500, 999_999)).toBe(2500);
    expect(chunkDeadlineMs(undefined, undefined)).toBe(FIRST_STEP_DEADLINE_MS);
    expect(FIRST_STEP_DEADLINE_MS).toBe(600_000);
    expect(chunkDeadlineMs(undefined, 40)).toBe(MIN_DERIVED_DEADLINE_MS);
    expect(chunkDeadlineMs(undefined, 4_000)).toBe(80_000);
    expect(chunkDeadlineMs(undefined, 1e12)).toBe(7 * 24 * 3600 * 1000);
  });
});

describe.runIf(redisServerAvailable())("Redis losing data, hung computations and eviction policies (real redis-server)", () => {
  let redis: TestRedis;
  let root: string;
  let reference: string;
  const processes: CliProcess[] = [];
  const workers: WorkerProcess[] = [];

  beforeAll(async () => {
    await useBackend("cpu");
    redis = await startRedis();
    root = mkdtempSync(join(tmpdir(), "concord-lost-data-"));
    writeFileSync(join(root, "config.json"), JSON.stringify(config()));
    writeFileSync(join(root, "hang.json"), JSON.stringify(config("hang-mse")));
    reference = join(root, "reference");
    const result = await runExperiment(queueTrainConfig(parseConfig(config())), { outDir: reference, progress: "none" });
    tf.dispose(Object.values(result.params));
  }, 120_000);

  afterAll(async () => {
    for (const process_ of [...processes, ...workers]) {
      process_.child.kill("SIGCONT");
      await stopProcess(process_.child, "SIGKILL");
    }
    await redis?.stop();
  });

  const train = (file: string, outDir: string, extra: readonly string[] = []) => {
    const coordinator = startCli(["train", join(root, file), "--queue", redis.url, "--out", outDir, "--progress", "none", "--chunk-tasks", "2", ...extra]);
    processes.push(coordinator);
    return coordinator;
  };
  const expectSameAsReference = (outDir: string) => {
    expect(finalParams(join(outDir, "checkpoint.ckpt"))).toEqual(finalParams(join(reference, "checkpoint.ckpt")));
    expect(readFileSync(join(outDir, "evaluation.json"), "utf8")).toBe(readFileSync(join(reference, "evaluation.json"), "utf8"));
    const losses = (folder: string) => readMetrics(join(folder, "metrics.jsonl")).map((record) => [record.iteration, record.queryLossAfter, record.weightMin]);
    expect(losses(outDir)).toEqual(losses(reference));
    expect(readdirSync(outDir).filter((name) => name.includes(".tmp"))).toEqual([]);
  };
  /** Exits within `ms`, or the test fails here instead of hanging (what a coordinator without the fix does). */
  const exitWithin = async (process_: CliProcess, ms: number) => {
    let code: number | null | undefined;
    process_.exited.then((exit) => {
      code = exit;
    });
    await waitFor(
      () => code !== undefined,
      ms,
      () => `still running after ${ms} ms: ${process_.output()}`,
    );
    return code;
  };

  it("FLUSHALL while a step is in flight: the coordinator notices the lost jobs and inputs, writes them again, and the run ends identical", async () => {
    const worker = startWorkerProcess(redis.url, join(root, "store"), ["--log-chunks"]);
    workers.push(worker);
    await worker.ready;
    const outDir = join(root, "flushed");
    const coordinator = train("config.json", outDir);
    await waitFor(() => existsSync(join(outDir, "checkpoint.ckpt")), 60_000, coordinator.output, coordinator.exited);
    // Freeze the only worker: the step in flight cannot finish, and its chunks sit in Redis.
    worker.child.kill("SIGSTOP");
    const queue = new Queue(TASK_QUEUE_NAME, { connection: bullConnection(parseRedisUrl(redis.url)) });
    const client = new Redis(parseRedisUrl(redis.url).options);
    try {
      const queued = async () => (await queue.getWaitingCount()) + (await queue.getActiveCount());
      expect(await pollUntil(async () => (await queued()) > 0, 30_000), "no chunk in Redis").toBe(true);
      await client.flushall();
      expect(await client.dbsize()).toBe(0);
      // Nothing disconnects: only the coordinator's own checks can bring the step back.
      expect(await pollUntil(async () => (await queued()) > 0, 30_000), "the coordinator did not add the lost chunks again").toBe(true);
      expect(await client.exists(...(await client.keys("concord:tasks:*:theta")))).toBe(1);
    } finally {
      client.disconnect();
      await queue.close();
      worker.child.kill("SIGCONT");
    }
    expect(await exitWithin(coordinator, 120_000), coordinator.output()).toBe(0);
    expect(coordinator.stdout()).toMatch(/[1-9]\d* resubmitted after Redis lost them/);
    expectSameAsReference(outDir);
    await stopProcess(worker.child, "SIGKILL");
    workers.splice(0);
  }, 240_000);

  it("a compute thread that hangs: the worker stops it at the chunk's deadline, the run stops with a clear message, and the worker goes on computing", async () => {
    const worker = startWorkerProcess(redis.url, join(root, "store"), ["--plugin", HANG_PLUGIN, "--log-chunks"]);
    workers.push(worker);
    await worker.ready;
    const outDir = join(root, "hung");
    const coordinator = train("hang.json", outDir, ["--plugin", HANG_PLUGIN, "--chunk-deadline", "1"]);
    const code = await exitWithin(coordinator, 90_000);
    expect(code).not.toBe(0);
    expect(coordinator.output()).toMatch(
      /--queue: meta-step on the queue failed: chunk \d \(tasks \d–\d\) failed on the workers: job \S+ \(step 0 chunk \d\) failed for good: its worker died 0 times holding it, 3 attempts ended in an error; last error: chunk \S+ exceeded its deadline of 1 s; its compute thread was stopped/,
    );
    // Three attempts (the coordinator's default), each stopped at its deadline.
    expect(worker.output().match(/exceeded its deadline of 1 s/g)?.length ?? 0).toBeGreaterThanOrEqual(3);
    expect(worker.child.exitCode).toBeNull();
    // The same worker, its hung threads stopped, computes a whole run.
    const after = train("config.json", join(root, "after-hang"));
    expect(await exitWithin(after, 120_000), after.output()).toBe(0);
    expectSameAsReference(join(root, "after-hang"));
  }, 240_000);

  it("refuses a Redis whose maxmemory-policy evicts keys (workers, train and compare), runs with a warning under --allow-eviction, and says when CONFIG is disabled", async () => {
    const evicting = await startRedis({ extraArgs: ["--maxmemory-policy", "volatile-lru"] });
    const noConfig = await startRedis({ extraArgs: ["--rename-command", "CONFIG", "CONFIG-renamed-away"] });
    try {
      const refusal =
        /--queue: Redis at redis:\/\/127\.0\.0\.1:\d+\/? has maxmemory-policy volatile-lru: under memory pressure it deletes keys, first of all Concord's θ, task and result keys \(they carry TTLs\); set it to noeviction .* or pass --allow-eviction/;
      const warnings: string[] = [];
      const error = await checkEvictionPolicy(parseRedisUrl(evicting.url), { warn: (line) => warnings.push(line) }).catch((caught: unknown) => caught);
      expect(error).toBeInstanceOf(ConcordError);
      expect((error as Error).message).toMatch(refusal);
      const scheduled = await compareExperiment(parseConfig(config()), {
        weightings: ["uniform"],
        seeds: 1,
        progress: "none",
        log: () => {},
        outDir: join(root, "evicting-sweep"),
        scheduler: queueScheduler({ url: evicting.url, store: root, log: () => {} }),
      }).catch((caught: unknown) => caught);
      expect((scheduled as Error).message).toMatch(refusal);
      for (const args of [
        ["worker", "--queue", evicting.url, "--store", join(root, "store")],
        ["train", join(root, "config.json"), "--queue", evicting.url, "--out", join(root, "evicting-run")],
      ]) {
        const run = spawnSync(process.execPath, [CLI, ...args], { encoding: "utf8", timeout: 60_000 });
        expect(run.status, run.stderr).toBe(2);
        expect(run.stderr).toMatch(refusal);
      }
      expect(existsSync(join(root, "evicting-run"))).toBe(false);

      const allowed = startCli(["worker", "--queue", evicting.url, "--store", join(root, "store"), "--allow-eviction"]);
      const unchecked = startCli(["worker", "--queue", noConfig.url, "--store", join(root, "store")]);
      processes.push(allowed, unchecked);
      for (const worker of [allowed, unchecked])
        await waitFor(() => worker.output().includes("worker: waiting for runs"), 60_000, worker.output, worker.exited);
      expect(allowed.output()).toMatch(/warning: --queue: Redis at .* has maxmemory-policy volatile-lru: .*; running anyway \(--allow-eviction\)/);
      expect(unchecked.output()).toMatch(
        /warning: --queue: cannot check Redis's maxmemory-policy at .* \(CONFIG GET was refused: ERR unknown command .*\); make sure it is noeviction/,
      );
      await stopProcess(allowed.child);
      await stopProcess(unchecked.child);
    } finally {
      await evicting.stop();
      await noConfig.stop();
    }
  }, 180_000);
});
