// One writer per run folder (issue 20, finding 3): a worker that lost its run's job (frozen past its
// lock, or the job lost from Redis) while another took the run over must not write anything more into
// the folder. Every start of a run's job takes a new epoch (Redis) and writes it into the folder's
// lease; every write checks the lease; a worker whose lock renewal fails stops its training thread.
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, statSync } from "node:fs";
import { hostname, tmpdir } from "node:os";
import { join } from "node:path";
import {
  compareExperiment,
  type ExperimentConfigInput,
  LEASE_FILE,
  leaseFence,
  MetricsLog,
  metricsRecord,
  parseConfig,
  readLease,
  RunFolder,
  runExperiment,
  saveCheckpoint,
  StaleWriter,
  writeLease,
} from "@concord/runner";
import { useBackend } from "@concord/backend";
import * as tf from "@tensorflow/tfjs-core";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseRedisUrl } from "./connection.js";
import { queueScheduler } from "./coordinator.js";
import { runEpochKey, takeRunEpoch } from "./run-epoch.js";
import { finalParams, startWorkerProcess, type WorkerProcess, waitFor } from "./testing/cli-processes.js";
import { redisServerAvailable, startRedis, stopProcess, type TestRedis } from "./testing/redis-server.js";

const lease = (epoch: number) => ({ epoch, host: "test-host", pid: 1, holder: `job test-${epoch}`, since: new Date(0).toISOString() });

describe("run-folder fencing by the lease's epoch", () => {
  const dir = mkdtempSync(join(tmpdir(), "concord-fence-"));

  it("a writer whose epoch the lease no longer names writes nothing: config, checkpoint, metrics (no line, no truncation), no temp file left", async () => {
    await useBackend("cpu");
    writeLease(dir, lease(1));
    const current = new RunFolder(dir, { fence: leaseFence(dir, 1) });
    current.writeConfig({ a: 1 });
    const metrics = MetricsLog.create(current.metricsPath, current.fence);
    const record = metricsRecord(
      1,
      {
        weights: [0.5, 0.5],
        supportLossBefore: 1,
        supportLossAfter: 1,
        queryLossBefore: 1,
        queryLossAfter: 1,
        meanPairwiseCosine: 1,
        effectiveTasks: 2,
        weightedCosine: 1,
        fellBack: false,
      } as never,
      0,
      1,
      1,
    );
    metrics.append(record);
    metrics.sync();

    writeLease(dir, lease(2)); // another worker took the run over
    const stale = new RunFolder(dir, { fence: leaseFence(dir, 1) });
    const before = Object.fromEntries(readdirSync(dir).map((name) => [name, readFileSync(join(dir, name))]));
    expect(() => stale.writeConfig({ a: 2 })).toThrow(StaleWriter);
    expect(() => stale.writeConfig({ a: 2 })).toThrow(
      /this writer holds epoch 1 of the run folder, whose lease now names epoch 2 \(job test-2 on test-host, pid 1, since .*\): another worker took the run over/,
    );
    expect(() => metrics.append(record)).toThrow(StaleWriter);
    expect(() => MetricsLog.resume(stale.metricsPath, 0, stale.fence)).toThrow(StaleWriter);
    expect(() => MetricsLog.create(stale.metricsPath, stale.fence)).toThrow(StaleWriter);
    const params = { w: tf.tensor1d([1, 2]) };
    const checkpoint = {
      iteration: 1,
      params,
      optimizerState: { name: "sgd", step: 1, slots: {} },
      taskRngState: { state: [1, 2, 3, 4] } as never,
      config: {},
      metricsOffset: 0,
      fallbacks: 0,
      backend: "cpu",
      elapsedSeconds: 0,
    };
    expect(() => saveCheckpoint(stale.checkpointPath, checkpoint, stale.writeOptions())).toThrow(StaleWriter);
    expect(() => stale.removeStaleTempFiles()).toThrow(StaleWriter);
    const after = Object.fromEntries(readdirSync(dir).map((name) => [name, readFileSync(join(dir, name))]));
    expect(after).toEqual(before);
    expect(existsSync(stale.checkpointPath)).toBe(false);

    // The current writer still writes.
    const fresh = new RunFolder(dir, { fence: leaseFence(dir, 2) });
    saveCheckpoint(fresh.checkpointPath, checkpoint, fresh.writeOptions());
    expect(existsSync(fresh.checkpointPath)).toBe(true);
    metrics.close();
    tf.dispose(params.w);
  });

  it("temp files are named by host, pid and a random part, so writers on two hosts with the same pid never share one", () => {
    const seen: string[] = [];
    const folder = new RunFolder(dir, { fence: () => seen.push(...readdirSync(dir).filter((name) => name.includes(".tmp-"))) });
    writeLease(dir, lease(3));
    folder.writeConfig({ b: 1 });
    folder.writeConfig({ b: 2 });
    const host = hostname().replace(/[^A-Za-z0-9_.-]/g, "_");
    expect(seen).toHaveLength(2);
    for (const name of seen) expect(name).toMatch(new RegExp(`^\\.config\\.json\\.tmp-${host.replace(/\./g, "\\.")}-${process.pid}-[0-9a-f]{8}$`));
    expect(seen[0]).not.toBe(seen[1]);
    expect(readdirSync(dir).filter((name) => name.includes(".tmp-"))).toEqual([]);
  });
});

function config(): ExperimentConfigInput {
  return {
    seed: 9,
    iterations: 60,
    metaBatchSize: 6,
    backend: "cpu",
    weighting: "agreement",
    algorithm: { name: "maml", order: 2, innerSteps: 2 },
    model: { name: "mlp", sizes: [1, 24, 24, 1], init: "pytorch" },
    tasks: { name: "sinusoid", supportSize: 10, querySize: 10 },
    objective: "mse",
    innerOptimizer: { name: "sgd", lr: 0.01 },
    outerOptimizer: { name: "adam", lr: 0.003 },
    evaluation: { tasks: 4, innerSteps: 2 },
    checkpointEvery: 10,
    logEvery: 10,
  };
}

describe.runIf(redisServerAvailable())("a stale worker writes nothing into a run folder another worker took over (real redis-server)", () => {
  let redis: TestRedis;
  let root: string;
  const workers: WorkerProcess[] = [];

  beforeAll(async () => {
    await useBackend("cpu");
    redis = await startRedis();
    root = mkdtempSync(join(tmpdir(), "concord-fencing-"));
    const reference = await runExperiment(parseConfig(config()), { outDir: join(root, "reference"), progress: "none" });
    tf.dispose(Object.values(reference.params));
  }, 120_000);

  afterAll(async () => {
    for (const worker of workers) {
      worker.child.kill("SIGCONT");
      await stopProcess(worker.child, "SIGKILL");
    }
    await redis?.stop();
  });

  it("takes epochs above every earlier one, the lease's included (a counter lost with Redis restarts above it)", async () => {
    const client = new Redis(parseRedisUrl(redis.url).options);
    try {
      expect(await takeRunEpoch(client, "a/b", 0)).toBe(1);
      expect(await takeRunEpoch(client, "a/b", 1)).toBe(2);
      await client.del(runEpochKey("a/b"));
      expect(await takeRunEpoch(client, "a/b", 7)).toBe(8);
      expect(await takeRunEpoch(client, "a/b", 0)).toBe(9);
    } finally {
      client.disconnect();
    }
  });

  /** Every file of the folder, bytes included. */
  const snapshot = (dir: string) =>
    Object.fromEntries(readdirSync(dir).map((name) => [name, statSync(join(dir, name)).isFile() ? readFileSync(join(dir, name)).toString("base64") : "dir"]));

  /**
   * Worker A trains a one-run comparison and is frozen (SIGSTOP) after its first checkpoint;
   * `takeOver` makes worker B take the run over (A's lock expires, or the job is lost and re-added).
   * B is frozen as soon as it resumes, so the folder stands still; A is let go. A must stop (lock lost
   * or fenced) without changing one byte of the folder; then B finishes, identical to one process.
   */
  const staleWorkerScenario = async (name: string, takeOver: () => Promise<void>) => {
    const store = join(root, "store");
    mkdirSync(store, { recursive: true });
    const a = startWorkerProcess(redis.url, store);
    workers.push(a);
    await a.ready;
    const runDir = join(store, name, "maml+agreement", "seed-9");
    const lines: string[] = [];
    const comparison = compareExperiment(parseConfig(config()), {
      weightings: ["agreement"],
      seeds: 1,
      progress: "none",
      log: () => {},
      outDir: join(store, name),
      scheduler: queueScheduler({ url: redis.url, store, log: (line) => lines.push(line) }),
    });
    comparison.catch(() => {});
    await waitFor(() => existsSync(join(runDir, "checkpoint.ckpt")), 60_000, a.output, a.exited);
    a.child.kill("SIGSTOP");
    const epochA = readLease(runDir)!.epoch;

    const b = startWorkerProcess(redis.url, store);
    workers.push(b);
    await takeOver();
    await waitFor(() => /resuming from its checkpoint .*\(epoch \d+\)/.test(b.output()), 60_000, b.output, b.exited);
    b.child.kill("SIGSTOP");
    await new Promise((resolve) => setTimeout(resolve, 200)); // B's lines written before the stop arrive
    expect(readLease(runDir)!.epoch).toBeGreaterThan(epochA);
    const frozen = snapshot(runDir);

    a.child.kill("SIGCONT");
    await waitFor(
      () => /failed: (lost the lock of job|.*another worker took the run over)/.test(a.output()),
      30_000,
      () => `the stale worker did not stop: ${a.output()}`,
      a.exited,
    );
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(snapshot(runDir)).toEqual(frozen);
    expect(readFileSync(join(runDir, LEASE_FILE), "utf8")).toContain(`"epoch":${readLease(runDir)!.epoch}`);

    b.child.kill("SIGCONT");
    await comparison;
    const reference = join(root, "reference");
    expect(finalParams(join(runDir, "checkpoint.ckpt"))).toEqual(finalParams(join(reference, "checkpoint.ckpt")));
    expect(readFileSync(join(runDir, "evaluation.json"), "utf8")).toBe(readFileSync(join(reference, "evaluation.json"), "utf8"));
    const losses = (dir: string) =>
      readFileSync(join(dir, "metrics.jsonl"), "utf8")
        .trim()
        .split("\n")
        .map((line) => (JSON.parse(line) as { iteration: number; queryLossAfter: number }).queryLossAfter);
    expect(losses(runDir)).toEqual(losses(reference));
    expect(readdirSync(runDir).filter((file) => file.includes(".tmp-"))).toEqual([]);
    for (const worker of [a, b]) await stopProcess(worker.child, "SIGKILL");
    workers.splice(0);
    return { a, b, lines };
  };

  it("a worker SIGSTOPped past its lock while another takes the run over: resumed, it stops and writes nothing; the run ends identical", async () => {
    const { a } = await staleWorkerScenario("stopped", async () => {});
    expect(a.output()).toMatch(
      /failed: lost the lock of job run-[0-9a-f]{32} \(frozen, paused or cut off from Redis longer than --lock-seconds\)|another worker took the run over/,
    );
  }, 240_000);

  it("a run's job lost from Redis (FLUSHALL) while its worker is frozen: the coordinator adds it again, another worker resumes it, the first writes nothing, and the run ends identical", async () => {
    const client = new Redis(parseRedisUrl(redis.url).options);
    try {
      const { lines } = await staleWorkerScenario("flushed", async () => {
        await client.flushall();
      });
      expect(lines.join("\n")).toMatch(
        /re-added maml\+agreement seed 9: its job run-[0-9a-f]{32} was gone from Redis \(FLUSHALL, eviction or a restart without persistence\); it resumes from its checkpoint/,
      );
    } finally {
      client.disconnect();
    }
  }, 240_000);
});
