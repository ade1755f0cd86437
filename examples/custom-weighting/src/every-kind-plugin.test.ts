// A third-party plug-in of every kind (every-kind-plugin.mjs: one definition each) named in one
// config, run four ways: in-process (runExperiment), through the concord CLI (--plugin), on a
// `concord worker` through a real Redis (the worker loads the same file), and through an export and
// its loader. Each plug-in wraps a built-in, so every way must end with the built-in run's
// parameters, bit for bit.
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { runCli } from "@concord/cli";
import { loadMetaModel } from "@concord/deploy/node";
import {
  createRegistry,
  disposeCheckpoint,
  type ExperimentConfigInput,
  exportCheckpoint,
  loadCheckpoint,
  loadPlugins,
  parseConfig,
  runExperiment,
} from "@concord/runner";
import * as tf from "@tensorflow/tfjs-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const exampleDir = join(dirname(fileURLToPath(import.meta.url)), "..");
const PLUGIN = join(exampleDir, "every-kind-plugin.mjs");
const builtCli = join(dirname(createRequire(import.meta.url).resolve("@concord/cli/package.json")), "dist", "cli.js");

const builtInConfig: ExperimentConfigInput = {
  seed: 5,
  iterations: 6,
  metaBatchSize: 4,
  backend: "cpu",
  weighting: "agreement",
  algorithm: { name: "maml", order: 1, innerSteps: 1, execution: "per-task" },
  model: { name: "mlp", sizes: [1, 8, 1], init: "pytorch" },
  tasks: { name: "sinusoid", supportSize: 5, querySize: 5 },
  objective: "mse",
  innerOptimizer: { name: "sgd", lr: 0.01 },
  outerOptimizer: { name: "adam", lr: 0.01 },
  evaluation: { tasks: 4, innerSteps: 1 },
  checkpointEvery: 3,
  logEvery: 3,
};
/** The same experiment, every plug-in named by its third-party definition. */
const pluginConfig: ExperimentConfigInput = {
  ...builtInConfig,
  weighting: "my-agreement",
  algorithm: { ...(builtInConfig.algorithm as object), name: "my-maml" },
  model: { ...(builtInConfig.model as object), name: "my-mlp" },
  tasks: { ...(builtInConfig.tasks as object), name: "my-sinusoid" },
  objective: "my-mse",
  innerOptimizer: { name: "my-sgd", lr: 0.01 },
  outerOptimizer: { name: "my-adam", lr: 0.01 },
};

const bits = (tensor: tf.Tensor) => Array.from(new Uint32Array((tensor.dataSync() as Float32Array).slice().buffer));
function paramBits(checkpointPath: string): Record<string, number[]> {
  const checkpoint = loadCheckpoint(checkpointPath);
  try {
    return Object.fromEntries(Object.entries(checkpoint.params).map(([name, tensor]) => [name, bits(tensor)]));
  } finally {
    disposeCheckpoint(checkpoint);
  }
}

const work = mkdtempSync(join(tmpdir(), "concord-every-kind-"));
const pluginConfigPath = join(work, "plugin-config.json");
writeFileSync(pluginConfigPath, JSON.stringify(pluginConfig));
let expected: Record<string, number[]>;

async function cli(args: string[]) {
  let stderr = "";
  const code = await runCli(args, { stdout: () => {}, stderr: (text) => (stderr += text), cwd: work });
  return { code, stderr };
}

beforeAll(async () => {
  const run = await runExperiment(parseConfig(builtInConfig), { outDir: join(work, "built-in"), progress: "none" });
  tf.dispose(Object.values(run.params));
  expected = paramBits(join(work, "built-in", "checkpoint.ckpt"));
});

describe("a third-party plug-in of every kind, through one definition each", () => {
  it("in a config: runExperiment with the plug-ins loaded ends with the built-in run's parameters", async () => {
    const registry = createRegistry();
    await loadPlugins(registry, [PLUGIN]);
    const run = await runExperiment(parseConfig(pluginConfig), { outDir: join(work, "config"), registry, progress: "none" });
    expect([run.model.name, run.objective.name, run.innerOptimizer.name, run.evaluationSampler.name]).toEqual(["my-mlp", "my-mse", "my-sgd", "my-sinusoid"]);
    tf.dispose(Object.values(run.params));
    expect(paramBits(join(work, "config", "checkpoint.ckpt"))).toEqual(expected);
  });

  it("on the CLI: concord train --plugin", async () => {
    const result = await cli(["train", pluginConfigPath, "--plugin", PLUGIN, "--out", "cli", "--progress", "none"]);
    expect(result.stderr).toBe("");
    expect(result.code).toBe(0);
    expect(paramBits(join(work, "cli", "checkpoint.ckpt"))).toEqual(expected);
  });

  it("in an export: written through the model's definition, loaded with the same registry", async () => {
    const registry = createRegistry();
    await loadPlugins(registry, [PLUGIN]);
    const outDir = join(work, "export");
    const exported = await exportCheckpoint(join(work, "config", "checkpoint.ckpt"), outDir, registry);
    expect(exported.spec).toMatchObject({
      model: { name: "my-mlp" },
      objective: { name: "my-mse" },
      innerOptimizer: { name: "my-sgd" },
      inputShape: [1],
      labelCount: null,
    });
    await expect(loadMetaModel(outDir)).rejects.toThrow(/unknown name "my-mlp"/);
    const loaded = await loadMetaModel(outDir, { plugins: registry });
    expect([loaded.model.name, loaded.objective.name, loaded.innerOptimizer.name]).toEqual(["my-mlp", "my-mse", "my-sgd"]);
    expect(Object.fromEntries(Object.entries(loaded.params).map(([name, tensor]) => [name, bits(tensor)]))).toEqual(expected);
    tf.dispose(Object.values(loaded.params));
  });
});

const redisInstalled = spawnSync("redis-server", ["--version"]).status === 0;
if (!redisInstalled) console.warn("every-kind-plugin.test: the `concord worker` case needs redis-server (apt-get install -y redis-server); skipped");

describe.skipIf(!redisInstalled)("a third-party plug-in of every kind on a `concord worker` (real redis-server, built CLI)", () => {
  const processes: ChildProcess[] = [];
  afterAll(() => {
    for (const child of processes) child.kill("SIGKILL");
  });

  it("concord train --queue with --plugin on both sides ends with the built-in run's parameters", async () => {
    const port = await freePort();
    const redis = spawn("redis-server", ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", work], {
      stdio: ["ignore", "pipe", "ignore"],
    });
    processes.push(redis);
    await outputContains(redis, "stdout", "Ready to accept connections");
    const url = `redis://127.0.0.1:${port}`;
    const worker = spawn(process.execPath, [builtCli, "worker", "--queue", url, "--store", work, "--plugin", PLUGIN, "--lock-seconds", "1"], {
      cwd: work,
      stdio: ["ignore", "ignore", "pipe"],
    });
    processes.push(worker);
    await outputContains(worker, "stderr", "worker: waiting for runs");
    const train = spawnSync(
      process.execPath,
      [builtCli, "train", pluginConfigPath, "--plugin", PLUGIN, "--queue", url, "--out", "queued", "--progress", "none"],
      {
        cwd: work,
        encoding: "utf8",
        env: { ...process.env },
      },
    );
    expect(train.stderr).not.toMatch(/concord: /);
    expect(train.status).toBe(0);
    expect(train.stdout).toMatch(/queue: 6 meta-steps through Redis/);
    expect(paramBits(join(work, "queued", "checkpoint.ckpt"))).toEqual(expected);
  }, 120_000);
});

function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolvePort(port));
    });
  });
}

/** Resolves once the process has written `text` (rejects if it exits first or after 60 s). */
function outputContains(child: ChildProcess, stream: "stdout" | "stderr", text: string): Promise<void> {
  return new Promise((resolveOutput, reject) => {
    let output = "";
    const timer = setTimeout(() => reject(new Error(`timed out waiting for "${text}": ${output}`)), 60_000);
    child[stream]!.on("data", (chunk: Buffer) => {
      output += chunk.toString();
      if (output.includes(text)) {
        clearTimeout(timer);
        resolveOutput();
      }
    });
    child.once("exit", () => {
      clearTimeout(timer);
      reject(new Error(`exited before "${text}": ${output}`));
    });
  });
}
