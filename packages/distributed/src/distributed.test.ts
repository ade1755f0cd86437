// Against a real redis-server (started here on a free 127.0.0.1 port) and real `concord worker`
// processes (the built CLI): a queued comparison equals a local one, a SIGKILLed worker's run is
// resumed elsewhere bit for bit, and passwords, unknown plug-ins and bad payloads are refused.
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ConcordError } from "@concord/core";
import { buildFingerprint, compareExperiment, createRegistry, loadPlugins, type ExperimentConfigInput, parseConfig, runExperiment } from "@concord/runner";
import { useBackend } from "@concord/backend";
import * as tf from "@tensorflow/tfjs-core";
import { type Job, Queue } from "bullmq";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { bullConnection, checkRedis, parseRedisUrl, redactUrlText } from "./connection.js";
import { queueScheduler } from "./coordinator.js";
import { RUN_JOB_VERSION } from "./job.js";
import { runFolderClaimKey } from "./run-identity.js";
import { DEFAULT_QUEUE_NAME } from "./queue-name.js";
import { rewriteCheckpointHeader } from "./testing/checkpoint-header.js";
import { CLI, finalParams, startCli, startWorkerProcess, type WorkerProcess, waitFor } from "./testing/cli-processes.js";
import { INSTALL_HINT, redisServerAvailable, startRedis, stopProcess, type TestRedis } from "./testing/redis-server.js";

const available = redisServerAvailable();
const inCi = process.env.CI === "true";
if (!available && !inCi) {
  console.warn(`\n  ⚠ redis-server not found: the distributed tests are SKIPPED. Install it with: ${INSTALL_HINT}\n`);
}

describe.runIf(!available && inCi)("redis-server in CI", () => {
  it("is installed (.ci/run installs it)", () => {
    expect.fail(`redis-server is missing; with CI=true the distributed tests must run: ${INSTALL_HINT}`);
  });
});

const PASSWORD = "s3cret pass/word";

function tinyConfig(overrides: Partial<ExperimentConfigInput> = {}): ExperimentConfigInput {
  return {
    seed: 3,
    iterations: 10,
    metaBatchSize: 4,
    backend: "cpu",
    weighting: "agreement",
    algorithm: { name: "maml", order: 1, innerSteps: 1 },
    model: { name: "mlp", sizes: [1, 8, 1], init: "pytorch" },
    tasks: { name: "sinusoid", supportSize: 5, querySize: 5 },
    objective: "mse",
    innerOptimizer: { name: "sgd", lr: 0.01 },
    outerOptimizer: { name: "adam", lr: 0.01 },
    evaluation: { tasks: 8, innerSteps: 2 },
    checkpointEvery: 5,
    logEvery: 5,
    ...overrides,
  };
}

/** The table without its wall-time column (the only thing that may differ between two trainings). */
function withoutWallTime(table: string): string {
  return table
    .split("\n")
    .map((line) => line.replace(/\s{2}\S+(?:\s\S+)?\s{2,}(cpu|wasm|backend)\s*$/, "  $1"))
    .join("\n");
}

/** Polls the job until it has completed or failed (no reliance on catching an event in time). */
async function finishedJob(queue: Queue, id: string, timeoutMs = 30_000): Promise<Job> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const job = await queue.getJob(id);
    const state = job ? await job.getState() : "missing";
    // Read again: the job object may predate the state it is now in.
    if (state === "failed" || state === "completed") return (await queue.getJob(id))!;
    if (Date.now() > deadline) throw new Error(`job ${id} did not finish in ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

describe.runIf(available)("distributed sweeps on a real redis-server", () => {
  let redis: TestRedis;
  const workers: WorkerProcess[] = [];
  let root: string;

  beforeAll(async () => {
    await useBackend("cpu");
    redis = await startRedis({ password: PASSWORD });
    root = mkdtempSync(join(tmpdir(), "concord-distributed-"));
  }, 30_000);

  afterAll(async () => {
    for (const worker of workers) await stopProcess(worker.child, "SIGKILL");
    await redis?.stop();
  });

  it("parses redis:// and rediss:// URLs, passing user, password, db and TLS through", () => {
    const plain = parseRedisUrl("redis://:p%40ss@10.0.0.5:7000/2");
    expect(plain.options).toMatchObject({ host: "10.0.0.5", port: 7000, db: 2, password: "p@ss" });
    expect(plain.display).not.toContain("p%40ss");
    const tls = parseRedisUrl("rediss://alice:pw@redis.example.org");
    expect(tls.options).toMatchObject({ host: "redis.example.org", port: 6379, username: "alice", password: "pw", tls: { servername: "redis.example.org" } });
    expect(() => parseRedisUrl("http://127.0.0.1:6379")).toThrow(/--queue: expected a redis:\/\/ or rediss:\/\//);
  });

  it("connects with the password and refuses clearly without it", async () => {
    await checkRedis(parseRedisUrl(redis.url));
    const without = `redis://127.0.0.1:${redis.port}`;
    const error = await checkRedis(parseRedisUrl(without)).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(ConcordError);
    expect((error as Error).message).toMatch(/--queue: Redis at redis:\/\/127\.0\.0\.1:\d+\/? refused the connection: NOAUTH.*give the password in the URL/);
    const wrong = await checkRedis(parseRedisUrl(`redis://:nope@127.0.0.1:${redis.port}`)).catch((caught: unknown) => caught);
    expect((wrong as Error).message).toMatch(/WRONGPASS.*give the password/);
    expect((wrong as Error).message).not.toContain("nope");
    // The CLI: bad input, one line, exit code 2, before any job is taken.
    const run = spawnSync(process.execPath, [CLI, "worker", "--queue", without, "--store", root], { encoding: "utf8", timeout: 30_000 });
    expect(run.status).toBe(2);
    expect(run.stderr).toMatch(/concord: --queue: Redis at .* refused the connection: NOAUTH/);
  }, 60_000);

  it("never prints a password: a URL that does not parse, a refused one, a command-line password; the URL from $CONCORD_REDIS_URL or --queue-file stays out of ps", async () => {
    const leaky = "redis://:ab#cd@h:6379";
    expect(() => parseRedisUrl(leaky)).toThrow(ConcordError);
    const parseError = (() => {
      try {
        parseRedisUrl(leaky);
      } catch (error) {
        return (error as Error).message;
      }
    })()!;
    expect(parseError).toMatch(/--queue: expected a Redis URL like .*, got one that does not parse \(redis:\/\/\*\*\*@h:6379\); percent-encode/);
    expect(parseError).not.toContain("ab");
    expect(redactUrlText("redis://user:pa@ss@host")).toBe("redis://***@host");
    expect(redactUrlText("redis://:secret")).toBe("redis://***");
    const never = join(root, "never");
    for (const args of [
      ["worker", "--queue", leaky, "--store", never],
      ["train", "sinusoid", "--queue", leaky, "--out", never],
      ["compare", "sinusoid", "--weighting", "uniform", "--queue", leaky, "--out", never],
    ]) {
      const run = spawnSync(process.execPath, [CLI, ...args], { encoding: "utf8", timeout: 60_000 });
      expect(run.status, run.stderr).toBe(2);
      expect(run.stderr).toMatch(/--queue: expected a Redis URL .* does not parse/);
      expect(run.stderr).toMatch(/warning: --queue: a password on the command line is visible/);
      expect(run.stderr + run.stdout).not.toContain("ab#cd");
      expect(run.stderr + run.stdout).not.toMatch(/ab%23cd|:ab\b/);
    }
    // The URL from the environment or a file: the process's command line holds no password.
    const urlFile = join(root, "redis-url");
    writeFileSync(urlFile, `${redis.url}\n`, { mode: 0o600 });
    const fromEnv = startCli(["worker", "--queue", "--store", join(root, "store")], { CONCORD_REDIS_URL: redis.url });
    const fromFile = startCli(["worker", "--queue-file", urlFile, "--store", join(root, "store")]);
    try {
      for (const worker of [fromEnv, fromFile]) {
        await waitFor(() => worker.output().includes("worker: waiting for runs"), 60_000, worker.output, worker.exited);
        const commandLine = readFileSync(`/proc/${worker.child.pid}/cmdline`, "utf8");
        expect(commandLine).not.toContain(PASSWORD);
        expect(commandLine).not.toContain(encodeURIComponent(PASSWORD));
        expect(worker.output()).not.toContain(encodeURIComponent(PASSWORD));
        expect(worker.output()).toMatch(/on redis:\/\/:\*\*\*@127\.0\.0\.1/);
      }
    } finally {
      await stopProcess(fromEnv.child);
      await stopProcess(fromFile.child);
    }
    const unset = spawnSync(process.execPath, [CLI, "worker", "--queue"], {
      encoding: "utf8",
      timeout: 60_000,
      env: { ...process.env, CONCORD_REDIS_URL: "" },
    });
    expect(unset.stderr).toMatch(/--queue: a bare --queue reads the Redis URL from \$CONCORD_REDIS_URL, which is not set/);
  }, 120_000);

  it("a comparison on 2 workers writes the same evaluations, checkpoints and table as a local one", async () => {
    const config = parseConfig(tinyConfig());
    const options = { weightings: ["uniform", "agreement"], seeds: 1, progress: "none" as const, log: () => {} };
    const local = await compareExperiment(config, { ...options, outDir: join(root, "local") });

    workers.push(startWorkerProcess(redis.url, join(root, "store")), startWorkerProcess(redis.url, join(root, "store")));
    await Promise.all(workers.map((worker) => worker.ready));
    const lines: string[] = [];
    const queued = await compareExperiment(config, {
      ...options,
      outDir: join(root, "store", "sweep"),
      scheduler: queueScheduler({ url: redis.url, store: join(root, "store"), log: (line) => lines.push(line) }),
    });
    expect(lines.join("\n")).toMatch(/queued 2 runs on redis:\/\/:\*\*\*@127\.0\.0\.1/);
    expect(withoutWallTime(queued.table)).toBe(withoutWallTime(local.table));
    for (const arm of ["maml+uniform", "maml+agreement"]) {
      const here = join(root, "local", arm, "seed-3");
      const there = join(root, "store", "sweep", arm, "seed-3");
      expect(readFileSync(join(there, "evaluation.json"), "utf8")).toBe(readFileSync(join(here, "evaluation.json"), "utf8"));
      expect(finalParams(join(there, "checkpoint.ckpt"))).toEqual(finalParams(join(here, "checkpoint.ckpt")));
    }
    const results = JSON.parse(readFileSync(join(root, "store", "sweep", "results.json"), "utf8"));
    const localResults = JSON.parse(readFileSync(join(root, "local", "results.json"), "utf8"));
    expect(results.arms.map((arm: { evaluation: unknown }) => arm.evaluation)).toEqual(localResults.arms.map((arm: { evaluation: unknown }) => arm.evaluation));
    // Both workers took part.
    expect(workers.every((worker) => worker.output().includes(": done,"))).toBe(true);
  }, 120_000);

  it("refuses jobs naming a plug-in the worker does not have, and malformed payloads, without retrying them", async () => {
    const queue = new Queue(DEFAULT_QUEUE_NAME, { connection: bullConnection(parseRedisUrl(redis.url)) });
    try {
      const good = { version: RUN_JOB_VERSION, config: tinyConfig(), outFolder: "bad/one", seed: 3, label: "bad one", build: buildFingerprint() };
      const cases: [unknown, RegExp][] = [
        [
          { ...good, config: tinyConfig({ weighting: "evil" }) },
          /job\.config\.weighting: the job names the weighting plug-in "evil", which this worker does not have .*--plugin/,
        ],
        [{ ...good, outFolder: "../../etc" }, /job\.outFolder: expected a relative folder of plain names inside the store/],
        [{ ...good, outFolder: "/tmp/abs" }, /job\.outFolder/],
        [{ ...good, config: { ...tinyConfig(), iteratons: 5 } }, /job\.config: .*iteratons/],
        [{ ...good, plugin: "/tmp/evil.js" }, /job: unknown field "plugin"/],
        ["not an object", /job: expected an object/],
        [{ ...good, version: 1 }, /job\.version: expected version 2, got 1/],
        [{ ...good, build: "0123456789abcdef" }, /job\.build: the job comes from Concord build "0123456789abcdef", this worker is build "[0-9a-f]{16}"/],
      ];
      for (const [data, reason] of cases) {
        const job = await queue.add("bad", data, { attempts: 3 });
        const failed = await finishedJob(queue, job.id!);
        expect(await failed.getState(), JSON.stringify(failed.returnvalue)).toBe("failed");
        expect(failed.failedReason).toMatch(reason);
        expect(failed.attemptsMade).toBe(1);
      }
      expect(existsSync(join(root, "store", "bad"))).toBe(false);
    } finally {
      await queue.close();
    }
  }, 60_000);

  it("refuses to resume a run whose checkpoint another build wrote, naming both builds, and leaves the checkpoint as it was", async () => {
    const outFolder = "other-build/run";
    const runDir = join(root, "store", outFolder);
    const config = parseConfig(tinyConfig());
    const partial = await runExperiment({ ...config, iterations: 5 }, { outDir: runDir, progress: "none" });
    tf.dispose(Object.values(partial.params));
    const checkpoint = join(runDir, "checkpoint.ckpt");
    rewriteCheckpointHeader(checkpoint, (header) => {
      header.build = "fedcba9876543210";
    });
    const before = readFileSync(checkpoint);
    const queue = new Queue(DEFAULT_QUEUE_NAME, { connection: bullConnection(parseRedisUrl(redis.url)) });
    try {
      const data = { version: RUN_JOB_VERSION, config: tinyConfig(), outFolder, seed: 3, label: "other build", build: buildFingerprint() };
      const job = await queue.add("other build", data, { attempts: 3 });
      const failed = await finishedJob(queue, job.id!);
      expect(failed.failedReason).toMatch(
        /job\.build: the checkpoint in .*other-build\/run was written by Concord build "fedcba9876543210", this worker is build "[0-9a-f]{16}"/,
      );
      expect(failed.attemptsMade).toBe(1);
      expect(readFileSync(checkpoint).equals(before)).toBe(true);
    } finally {
      await queue.close();
    }
  }, 60_000);

  it("two coordinators whose --out folders are the same relative to their stores: the second is refused, naming both; the first completes", async () => {
    const otherStore = join(root, "other-store");
    const config = parseConfig(tinyConfig());
    const schedule = (store: string, runConfig = config) =>
      compareExperiment(runConfig, {
        weightings: ["uniform"],
        seeds: 1,
        progress: "none",
        log: () => {},
        outDir: join(store, "duplicate"),
        scheduler: queueScheduler({ url: redis.url, store, log: () => {} }),
      });
    // No worker runs while the second coordinator tries: the first one's job stays queued, deterministically.
    for (const worker of workers.splice(0)) await stopProcess(worker.child);
    const first = schedule(join(root, "store"));
    first.catch(() => {});
    const connection = parseRedisUrl(redis.url);
    const queue = new Queue(DEFAULT_QUEUE_NAME, { connection: bullConnection(connection) });
    const client = new Redis(connection.options);
    try {
      const deadline = Date.now() + 30_000;
      while ((await queue.getWaitingCount()) === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      const claim = /--out: the run folder "duplicate\/maml\+uniform\/seed-3" \(relative to the workers' store\) belongs to another comparison on this Redis/;
      const otherStoreError = await schedule(otherStore).catch((error: unknown) => error);
      expect(otherStoreError).toBeInstanceOf(ConcordError);
      expect((otherStoreError as Error).message).toMatch(claim);
      expect((otherStoreError as Error).message).toContain(JSON.stringify(join(root, "store")));
      expect((otherStoreError as Error).message).toContain(JSON.stringify(otherStore));
      const otherConfig = await schedule(join(root, "store"), parseConfig(tinyConfig({ iterations: 12 }))).catch((error: unknown) => error);
      expect((otherConfig as Error).message).toMatch(
        /belongs to another comparison on this Redis \(the same store, config [0-9a-f]{12}; this one: .* config [0-9a-f]{12}\)/,
      );
      // Nothing was added by the refused ones.
      expect(await queue.getWaitingCount()).toBe(1);
      workers.push(startWorkerProcess(redis.url, join(root, "store")), startWorkerProcess(redis.url, join(root, "store")));
      await Promise.all(workers.map((worker) => worker.ready));
      await first;
      // Finished: the claim is gone, the folder free for another comparison.
      expect(await client.get(runFolderClaimKey("duplicate/maml+uniform/seed-3"))).toBeNull();
    } finally {
      client.disconnect();
      await queue.close();
    }
  }, 120_000);

  it("a poison run (its worker is killed each time, as by the OOM killer) fails after --max-attempts starts, reported with its job, starts and last error", async () => {
    for (const worker of workers.splice(0)) await stopProcess(worker.child);
    const poison = new URL("./testing/poison-plugin.mjs", import.meta.url).pathname;
    const registry = createRegistry();
    await loadPlugins(registry, [poison]);
    const store = join(root, "store");
    const lines: string[] = [];
    const comparison = compareExperiment(parseConfig(tinyConfig({ objective: "poison-mse" })), {
      weightings: ["uniform"],
      seeds: 1,
      progress: "none",
      log: () => {},
      registry,
      outDir: join(store, "poison"),
      scheduler: queueScheduler({ url: redis.url, store, log: (line) => lines.push(line) }),
    });
    let failure: unknown;
    comparison.catch((error: unknown) => {
      failure = error;
    });
    // Each worker takes the job and dies with it; the next one finds the job stalled. With
    // --max-attempts 2 the second death is the last: the third worker's stalled check fails the job.
    let deaths = 0;
    while (failure === undefined && deaths < 5) {
      const worker = startWorkerProcess(redis.url, store, ["--plugin", poison, "--max-attempts", "2"]);
      const outcome = await Promise.race([
        worker.exited.then(() => "died"),
        comparison.then(
          () => "done",
          () => "failed",
        ),
      ]);
      if (outcome === "died") deaths += 1;
      else workers.push(worker);
    }
    expect(deaths).toBe(2);
    expect(failure).toBeInstanceOf(ConcordError);
    const report =
      /maml\+uniform seed 3: job run-[0-9a-f]{32} \(maml\+uniform seed 3\) failed for good: its worker died 2 times holding it \(killed: out of memory\? .*\), \d+ attempts? ended in an error; last error: job stalled more than allowable limit/;
    expect((failure as Error).message).toMatch(report);
    expect(lines.join("\n")).toMatch(report);
    for (const worker of workers.splice(0)) await stopProcess(worker.child);
    workers.push(startWorkerProcess(redis.url, store), startWorkerProcess(redis.url, store));
    await Promise.all(workers.map((worker) => worker.ready));
  }, 120_000);

  it("the coordinator of a comparison SIGKILLed: compare --resume joins the queued runs and writes the same results", async () => {
    const configFile = join(root, "tiny.json");
    writeFileSync(configFile, JSON.stringify(tinyConfig()));
    const outDir = join(root, "store", "resumed");
    const args = ["compare", configFile, "--weighting", "uniform,agreement", "--seeds", "1", "--queue", redis.url, "--out", outDir, "--progress", "none"];
    const first = startCli(args);
    const checkpoint = (arm: string) => join(outDir, arm, "seed-3", "checkpoint.ckpt");
    await waitFor(() => existsSync(checkpoint("maml+uniform")) || existsSync(checkpoint("maml+agreement")), 60_000, first.output, first.exited);
    await stopProcess(first.child, "SIGKILL");
    expect(existsSync(join(outDir, "results.json"))).toBe(false);
    const second = startCli([...args, "--resume"]);
    expect(await second.exited, second.output()).toBe(0);
    const results = JSON.parse(readFileSync(join(outDir, "results.json"), "utf8"));
    const localResults = JSON.parse(readFileSync(join(root, "local", "results.json"), "utf8"));
    expect(results.arms.map((arm: { evaluation: unknown }) => arm.evaluation)).toEqual(localResults.arms.map((arm: { evaluation: unknown }) => arm.evaluation));
    for (const arm of ["maml+uniform", "maml+agreement"]) {
      expect(finalParams(checkpoint(arm))).toEqual(finalParams(join(root, "local", arm, "seed-3", "checkpoint.ckpt")));
    }
  }, 120_000);

  it("a SIGKILLed worker's run is resumed by another worker from its checkpoint, ending bit-identical", async () => {
    for (const worker of workers.splice(0)) await stopProcess(worker.child);
    const config = parseConfig(tinyConfig({ iterations: 300, checkpointEvery: 10, logEvery: 10 }));
    const store = join(root, "store");
    const first = startWorkerProcess(redis.url, store);
    workers.push(first);
    await first.ready;
    const runDir = join(store, "killed", "maml+agreement", "seed-3");
    const comparison = compareExperiment(config, {
      weightings: ["agreement"],
      seeds: 1,
      progress: "none",
      log: () => {},
      outDir: join(store, "killed"),
      scheduler: queueScheduler({ url: redis.url, store, log: () => {} }),
    });
    comparison.catch(() => {});
    // Kill the worker (and its training thread) as soon as its first checkpoint is on disk.
    const deadline = Date.now() + 60_000;
    while (!existsSync(join(runDir, "checkpoint.ckpt")) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    await stopProcess(first.child, "SIGKILL");
    expect(existsSync(join(runDir, "evaluation.json"))).toBe(false);

    const second = startWorkerProcess(redis.url, store);
    workers.push(second);
    await comparison;
    expect(second.output()).toMatch(/resuming from its checkpoint/);

    const reference = await runExperiment(config, { outDir: join(root, "reference"), progress: "none" });
    tf.dispose(Object.values(reference.params));
    expect(finalParams(join(runDir, "checkpoint.ckpt"))).toEqual(finalParams(join(root, "reference", "checkpoint.ckpt")));
    expect(readFileSync(join(runDir, "evaluation.json"), "utf8")).toBe(readFileSync(join(root, "reference", "evaluation.json"), "utf8"));
  }, 180_000);
});
