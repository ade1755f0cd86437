// Paths a job names are confined to the worker's own folders (issue 20, finding 4): plug-in options
// that name a folder or file (Omniglot's dataDir and cacheDir) must lie inside the worker's --store or
// one of its --data folders, after resolving symlinks; `..`, relative paths and symlinks out are refused.
import { existsSync, mkdirSync, mkdtempSync, readdirSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ConcordError } from "@concord/core";
import { buildFingerprint, type ExperimentConfigInput, parseConfig } from "@concord/runner";
import { type Job, Queue } from "bullmq";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { bullConnection, parseRedisUrl } from "./connection.js";
import { RUN_JOB_VERSION } from "./job.js";
import { confineConfigPaths, PATH_OPTION_NAME, type WorkerFolders, workerFolders } from "./job-paths.js";
import { DEFAULT_QUEUE_NAME } from "./queue-name.js";
import { TASK_JOB_VERSION, TASK_QUEUE_NAME } from "./tasks/protocol.js";
import { startWorkerProcess, type WorkerProcess } from "./testing/cli-processes.js";
import { redisServerAvailable, startRedis, stopProcess, type TestRedis } from "./testing/redis-server.js";

const root = mkdtempSync(join(tmpdir(), "concord-job-paths-"));
const store = join(root, "store");
const data = join(root, "data");
const outside = join(root, "outside");
for (const dir of [store, data, outside, join(data, "omniglot")]) mkdirSync(dir, { recursive: true });
symlinkSync(outside, join(store, "link-out"));
symlinkSync(join(data, "omniglot"), join(data, "link-in"));

function omniglot(options: Record<string, unknown>, evaluation: Record<string, unknown> = {}, model: Record<string, unknown> = {}): ExperimentConfigInput {
  return {
    seed: 1,
    iterations: 2,
    metaBatchSize: 2,
    backend: "cpu",
    weighting: "uniform",
    algorithm: { name: "maml", order: 1, innerSteps: 1 },
    model: { name: "mlp", sizes: [4, 2], ...model },
    tasks: { name: "omniglot", ways: 2, shots: 1, ...options },
    objective: "cross-entropy",
    innerOptimizer: { name: "sgd", lr: 0.1 },
    outerOptimizer: { name: "adam", lr: 0.001 },
    evaluation: { tasks: 2, innerSteps: 1, sampler: { name: "omniglot", ways: 2, shots: 1, split: "test", ...evaluation } },
    checkpointEvery: 1,
    logEvery: 1,
  };
}

describe("confineConfigPaths", () => {
  const folders: WorkerFolders = workerFolders(store, [data]);
  const refusal = (what: string) =>
    new RegExp(
      `${what}; a job may name only paths inside this worker's folders \\(--store ${store.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}, --data ${data.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}\\)`,
    );
  const confine = (config: ExperimentConfigInput) => () => confineConfigPaths(parseConfig(config), folders);

  it("names path options by convention: dir, path, file, folder, root, or a name ending in them", () => {
    for (const name of ["dataDir", "cacheDir", "dir", "imageFolders", "weightsPath", "vocabFile", "dataRoot", "paths"])
      expect(PATH_OPTION_NAME.test(name), name).toBe(true);
    for (const name of ["ways", "shots", "direction", "pathological", "profile", "split", "Dir"]) expect(PATH_OPTION_NAME.test(name), name).toBe(false);
  });

  it("accepts paths inside the store or a data folder, existing or not, through symlinks that stay inside", () => {
    expect(confine(omniglot({ dataDir: join(data, "omniglot"), cacheDir: join(store, "cache", "not-yet") }, { dataDir: join(data, "link-in") }))).not.toThrow();
    expect(confine(omniglot({ dataDir: data, cacheDir: store }))).not.toThrow();
  });

  it("refuses a folder outside, naming the option and the allowed folders", () => {
    const error = (() => {
      try {
        confine(omniglot({ dataDir: outside }))();
      } catch (caught) {
        return caught;
      }
    })();
    expect(error).toBeInstanceOf(ConcordError);
    expect((error as ConcordError).field).toBe("job.config.tasks.dataDir");
    expect((error as Error).message).toMatch(refusal(`"${outside}" is outside them`));
  });

  it("refuses a symlink that leads out (resolved with realpath), .., relative paths, non-strings, and checks the evaluation sampler and every plug-in kind", () => {
    expect(confine(omniglot({ cacheDir: join(store, "link-out", "cache") }))).toThrow(refusal(`is outside them`));
    expect(confine(omniglot({ cacheDir: join(store, "link-out", "cache") }))).toThrow(`(really ${join(outside, "cache")})`);
    expect(confine(omniglot({ dataDir: `${data}/../outside` }))).toThrow(/job\.config\.tasks\.dataDir: expected a path without "\.\."/);
    expect(confine(omniglot({ dataDir: "data/omniglot" }))).toThrow(/job\.config\.tasks\.dataDir: expected an absolute path, got "data\/omniglot"/);
    expect(confine(omniglot({ cacheDir: 7 }))).toThrow(/job\.config\.tasks\.cacheDir: expected a path, got 7/);
    expect(confine(omniglot({}, { dataDir: "/etc" }))).toThrow(/job\.config\.evaluation\.sampler\.dataDir: "\/etc" is outside them/);
    expect(confine(omniglot({}, {}, { weights: { sourceFile: "/etc/passwd" } }))).toThrow(
      /job\.config\.model\.weights\.sourceFile: "\/etc\/passwd" is outside them/,
    );
    expect(confine(omniglot({ imageFolders: [join(data, "omniglot"), outside] }))).toThrow(/job\.config\.tasks\.imageFolders\[1\]: /);
  });
});

describe.runIf(redisServerAvailable())("a real worker confines the paths of its jobs", () => {
  let redis: TestRedis;
  let worker: WorkerProcess;
  let queue: Queue;

  beforeAll(async () => {
    redis = await startRedis();
    worker = startWorkerProcess(redis.url, store, ["--data", data]);
    await worker.ready;
    queue = new Queue(DEFAULT_QUEUE_NAME, { connection: bullConnection(parseRedisUrl(redis.url)) });
  }, 90_000);

  afterAll(async () => {
    await queue?.close();
    if (worker) await stopProcess(worker.child, "SIGKILL");
    await redis?.stop();
  });

  const runJob = (config: ExperimentConfigInput, outFolder = "paths/run") => ({
    version: RUN_JOB_VERSION,
    config,
    outFolder,
    seed: 1,
    label: "paths",
    build: buildFingerprint(),
  });

  it("refuses run and chunk jobs naming folders outside --store and --data, at once and without touching them", async () => {
    expect(worker.output()).toContain(`(--store ${store}, --data ${data})`);
    const cases: [string, unknown, RegExp][] = [
      [
        DEFAULT_QUEUE_NAME,
        runJob(omniglot({ dataDir: outside })),
        /job\.config\.tasks\.dataDir: ".*outside" is outside them; a job may name only paths inside this worker's folders \(--store .*store, --data .*data\)/,
      ],
      [
        DEFAULT_QUEUE_NAME,
        runJob(omniglot({ dataDir: join(data, "omniglot"), cacheDir: join(outside, "cache") })),
        /job\.config\.tasks\.cacheDir: .* is outside them/,
      ],
      [DEFAULT_QUEUE_NAME, runJob(omniglot({ cacheDir: join(store, "link-out") })), /job\.config\.tasks\.cacheDir: .* \(really .*outside\) is outside them/],
      [DEFAULT_QUEUE_NAME, runJob(omniglot({}, { dataDir: outside })), /job\.config\.evaluation\.sampler\.dataDir: /],
      [
        DEFAULT_QUEUE_NAME,
        runJob(omniglot({ dataDir: join(data, "omniglot") }), "link-out/run"),
        /job\.outFolder: .* \(really .*outside\/run\) is outside them; .*\(--store .*store\)/,
      ],
    ];
    const chunk = {
      version: TASK_JOB_VERSION,
      build: buildFingerprint(),
      config: omniglot({}, {}, { weightsPath: join(outside, "weights.bin") }),
      backend: "cpu",
      session: "00112233445566778899aabb",
      step: 0,
      chunk: 0,
      start: 0,
      end: 1,
      taskCount: 1,
      kind: "first-order",
      innerSteps: 1,
      names: { model: "mlp", objective: "cross-entropy", innerOptimizer: "sgd" },
      deadlineMs: 60_000,
    };
    cases.push([TASK_QUEUE_NAME, chunk, /job\.config\.model\.weightsPath: .* is outside them/]);
    for (const [queueName, payload, reason] of cases) {
      const target = queueName === DEFAULT_QUEUE_NAME ? queue : new Queue(queueName, { connection: bullConnection(parseRedisUrl(redis.url)) });
      try {
        const job = await target.add("paths", payload, { attempts: 3 });
        const failed = await finished(target, job.id!);
        expect(failed.failedReason).toMatch(reason);
        expect(failed.attemptsMade).toBe(1);
      } finally {
        if (target !== queue) await target.close();
      }
    }
    expect(readdirSync(outside)).toEqual([]);
    expect(existsSync(join(store, "paths"))).toBe(false);
  }, 90_000);

  it("lets a job name a folder inside --data (the run then fails on its own: the folder holds no Omniglot)", async () => {
    const job = await queue.add("inside", runJob(omniglot({ dataDir: join(data, "link-in"), cacheDir: join(store, "cache") }), "paths/inside"), {
      attempts: 1,
    });
    const failed = await finished(queue, job.id!);
    expect(failed.failedReason).toMatch(/no Omniglot data at .*link-in/);
  }, 90_000);
});

async function finished(queue: Queue, id: string): Promise<Job> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const state = await queue.getJobState(id);
    if (state === "failed" || state === "completed") return (await queue.getJob(id))!;
    if (Date.now() > deadline) throw new Error(`job ${id} is still ${state}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}
