import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { isAbsolute, join } from "node:path";
import * as tf from "@tensorflow/tfjs-core";
import { createRng } from "@concord/core";
import { convNet } from "@concord/models";
import { loadMetaModel } from "@concord/deploy/node";
import { describe, expect, it } from "vitest";
import { OMNIGLOT_PREPROCESSING, sinusoidFamily } from "@concord/tasks";
import {
  createRegistry,
  disposeCheckpoint,
  exportCheckpoint,
  exportedTrainingConfig,
  loadCheckpoint,
  parseConfig,
  runExperiment,
  saveCheckpoint,
} from "@concord/runner";
import { tinyConfig } from "@concord/runner/testing";
import { EXIT_BAD_INPUT, EXIT_OK, runCli } from "../cli.js";

async function cli(args: string[], cwd: string) {
  let stdout = "";
  let stderr = "";
  const code = await runCli(args, { stdout: (t) => (stdout += t), stderr: (t) => (stderr += t), cwd });
  return { code, stdout, stderr };
}

const bitsOf = (tensor: tf.Tensor) => Array.from(new Uint32Array((tensor.dataSync() as Float32Array).slice().buffer));

describe("concord export", () => {
  it("exports a trained run's checkpoint: tf.io reads the weights, loadMetaModel gives the params bit for bit with the config's spec", async () => {
    const runDir = mkdtempSync(join(tmpdir(), "concord-export-run-"));
    const result = await runExperiment(parseConfig(tinyConfig()), { outDir: runDir, progress: "none" });
    tf.dispose(Object.values(result.params));
    const outDir = mkdtempSync(join(tmpdir(), "concord-export-out-"));

    const exported = await cli(["export", join(runDir, "checkpoint.ckpt"), "--out", outDir], runDir);
    expect(exported.stderr).toBe("");
    expect(exported.code).toBe(EXIT_OK);
    expect(exported.stdout).toContain("exported iteration 12 (mlp, 2 inner steps; with its evaluation)");

    const checkpoint = loadCheckpoint(join(runDir, "checkpoint.ckpt"));
    const before = tf.memory().numTensors;
    // tf.io's own JSON → artifacts path (what its file-system and http handlers use).
    const modelJson = JSON.parse(readFileSync(join(outDir, "model.json"), "utf8")) as tf.io.ModelJSON;
    const artifacts = await tf.io.getModelArtifactsForJSON(modelJson, async (manifest) => {
      const paths = manifest.flatMap((group) => group.paths);
      const buffers = paths.map((path) => {
        const bytes = readFileSync(join(outDir, path));
        return bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
      });
      return [manifest.flatMap((group) => group.weights), tf.io.concatenateArrayBuffers(buffers)];
    });
    const viaTfIo = tf.io.decodeWeights(artifacts.weightData as ArrayBuffer, artifacts.weightSpecs!);
    const loaded = await loadMetaModel(outDir);
    for (const [name, tensor] of Object.entries(checkpoint.params)) {
      expect(bitsOf(viaTfIo[name]!), name).toEqual(bitsOf(tensor));
      expect(bitsOf(loaded.params[name]!), name).toEqual(bitsOf(tensor));
    }
    expect(Object.keys(loaded.params)).toEqual(Object.keys(checkpoint.params));
    expect(loaded.spec.model).toEqual({ name: "mlp", options: { sizes: [1, 8, 1], init: "pytorch" } });
    expect(loaded.spec.innerOptimizer).toEqual({ name: "sgd", options: { lr: 0.01 } });
    expect(loaded.spec).toMatchObject({ innerSteps: 2, inputShape: [1], labelCount: null, preprocessing: { kind: "none" } });
    // The export records the summary: no per-task lists, no group names.
    const {
      perTaskLoss,
      perTaskAccuracy: _,
      perTaskGroup: _groups,
      groupNames: _names,
      ...evaluation
    } = JSON.parse(readFileSync(join(runDir, "evaluation.json"), "utf8"));
    expect(perTaskLoss).toHaveLength(3);
    expect(loaded.spec.evaluation).toEqual(evaluation);
    expect(loaded.spec.training).toMatchObject({ iteration: 12, backend: "cpu" });
    tf.dispose([...Object.values(viaTfIo), ...Object.values(loaded.params)]);
    expect(tf.memory().numTensors).toBe(before);
    disposeCheckpoint(checkpoint);
  });

  it("the export carries the preprocessing its task family declares (the runner knows no family's data)", async () => {
    const registry = createRegistry();
    registry.define({ ...sinusoidFamily, name: "sinusoid-drawn", presets: [], preprocessing: OMNIGLOT_PREPROCESSING }, "test");
    const runDir = mkdtempSync(join(tmpdir(), "concord-export-family-"));
    const result = await runExperiment(parseConfig(tinyConfig({ tasks: "sinusoid-drawn" })), { outDir: runDir, progress: "none", evaluate: false, registry });
    tf.dispose(Object.values(result.params));
    const outDir = mkdtempSync(join(tmpdir(), "concord-export-family-out-"));
    const exported = await exportCheckpoint(join(runDir, "checkpoint.ckpt"), outDir, registry);
    expect(exported.spec.preprocessing).toEqual(OMNIGLOT_PREPROCESSING);
    expect((await exportCheckpoint(join(runDir, "checkpoint.ckpt"), mkdtempSync(join(tmpdir(), "concord-export-default-")))).spec.preprocessing).toEqual({
      kind: "none",
    });
  });

  it("a missing checkpoint is one line naming the file, exit 2", async () => {
    const cwd = mkdtempSync(join(tmpdir(), "concord-export-bad-"));
    const result = await cli(["export", "nothing.ckpt", "--out", "out"], cwd);
    expect(result.code).toBe(EXIT_BAD_INPUT);
    expect(result.stderr).toBe(`concord: ${join(cwd, "nothing.ckpt")}: checkpoint file not found\n`);
  });

  describe("an export records no machine-local path (issue 20.2)", () => {
    const dataDir = join(tmpdir(), "trainer-home", "data", "omniglot");
    const cacheDir = join(tmpdir(), "trainer-home", ".cache", "concord");
    /** An Omniglot config as a trainer's machine holds it: data and cache folders, a schema path, notes. */
    const omniglotConfig = {
      $schema: "/home/trainer/concord/schema/config.json",
      description: `Omniglot 5-way 1-shot on ${dataDir}`,
      seed: 1,
      iterations: 3,
      metaBatchSize: 2,
      backend: "cpu",
      weighting: "uniform",
      algorithm: { name: "maml", order: 1, innerSteps: 1 },
      model: { name: "conv-net", ways: 5, inputShape: [28, 28, 1], filters: 2, blocks: 4, batchNorm: "transductive" },
      tasks: { name: "omniglot", ways: 5, shots: 1, queryShots: 1, split: "train", dataDir, cacheDir, rotations: true },
      objective: "cross-entropy",
      innerOptimizer: { name: "sgd", lr: 0.1 },
      outerOptimizer: { name: "adam", lr: 0.001 },
      evaluation: {
        tasks: 4,
        innerSteps: 3,
        sampler: { name: "omniglot", ways: 5, shots: 1, queryShots: 1, split: "test", dataDir: "data/omniglot", cacheDir: false },
      },
      checkpointEvery: 1,
      keepCheckpoints: [2],
      logEvery: 1,
      compare: { algorithms: { reptile: { innerSteps: 5 } } },
    };

    /** Every string in a JSON value, keys included. */
    function strings(value: unknown): string[] {
      if (typeof value === "string") return [value];
      if (Array.isArray(value)) return value.flatMap(strings);
      if (value !== null && typeof value === "object") return Object.entries(value).flatMap(([key, item]) => [key, ...strings(item)]);
      return [];
    }

    it("an Omniglot-config checkpoint exports without dataDir, cacheDir or any absolute path; weights bit for bit", async () => {
      const runDir = mkdtempSync(join(tmpdir(), "concord-export-omniglot-"));
      const params = convNet({ ways: 5, filters: 2 }).init(createRng(5));
      const checkpointPath = join(runDir, "checkpoint.ckpt");
      saveCheckpoint(checkpointPath, {
        iteration: 3,
        params,
        optimizerState: { name: "adam", step: 3, slots: {} },
        taskRngState: createRng(1).getState(),
        config: omniglotConfig,
        metricsOffset: 0,
        fallbacks: 0,
        backend: "cpu",
        elapsedSeconds: 1.5,
      });
      writeFileSync(
        join(runDir, "evaluation.json"),
        JSON.stringify({ iteration: 3, taskCount: 4, loss: [{ step: 0, mean: 1, ci95: 0 }], backend: "cpu", perTaskLoss: [[1, 1, 1, 1]], dataDir }),
      );
      const outDir = mkdtempSync(join(tmpdir(), "concord-export-omniglot-out-"));
      const exported = await cli(["export", checkpointPath, "--out", outDir], runDir);
      expect(exported.stderr).toBe("");
      expect(exported.code).toBe(EXIT_OK);

      const text = readFileSync(join(outDir, "model.json"), "utf8");
      expect(text).not.toContain("dataDir");
      expect(text).not.toContain("cacheDir");
      expect(text).not.toContain("trainer");
      const json = JSON.parse(text);
      for (const value of strings(json)) expect(isAbsolute(value) || /^[a-z]:[\\/]|^~|^file:/i.test(value), value).toBe(false);

      // What the record keeps: the run's hyperparameters and progress.
      expect(Object.keys(json.concord.training.config)).toEqual([
        "seed",
        "iterations",
        "metaBatchSize",
        "backend",
        "weighting",
        "algorithm",
        "model",
        "tasks",
        "objective",
        "innerOptimizer",
        "outerOptimizer",
        "evaluation",
      ]);
      expect(json.concord.training.config.tasks).toEqual({ name: "omniglot", ways: 5, shots: 1, queryShots: 1, split: "train", rotations: true });
      expect(json.concord.training.config.evaluation).toEqual({
        tasks: 4,
        innerSteps: 3,
        seed: 20181017,
        sampler: { name: "omniglot", ways: 5, shots: 1, queryShots: 1, split: "test" },
      });
      expect(json.concord.training.config.model).toEqual(omniglotConfig.model);
      expect(json.concord.training).toMatchObject({ iteration: 3, backend: "cpu", trainSeconds: 1.5 });
      expect(json.concord.evaluation).toEqual({ iteration: 3, taskCount: 4, loss: [{ step: 0, mean: 1, ci95: 0 }], backend: "cpu" });

      const loaded = await loadMetaModel(outDir);
      for (const [name, tensor] of Object.entries(params)) expect(bitsOf(loaded.params[name]!), name).toEqual(bitsOf(tensor));
      tf.dispose([...Object.values(loaded.params), ...Object.values(params)]);
    });

    it("plug-in options are recorded only when they are hyperparameters: numbers, booleans, names", () => {
      const config = exportedTrainingConfig({
        seed: 0,
        iterations: 1,
        metaBatchSize: 1,
        tasks: {
          name: "my-images",
          root: "images",
          ways: 5,
          mean: [0.5, 0.5],
          list: "/data/list.txt",
          labels: ["a", "b/c"],
          nested: { dir: "x", k: 2 },
          split: "val",
        },
        weighting: { name: "uniform" },
        evaluation: { tasks: 1, innerSteps: 1, seed: 0 },
      });
      // A bare word cannot be told from a name, so `root: "images"` stays; a path never does.
      expect(config.tasks).toEqual({ name: "my-images", root: "images", ways: 5, mean: [0.5, 0.5], nested: { dir: "x", k: 2 }, split: "val" });
    });
  });
});
