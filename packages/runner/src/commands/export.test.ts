import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as tf from "@tensorflow/tfjs-core";
import { loadMetaModel } from "@concord/deploy/node";
import { describe, expect, it } from "vitest";
import { OMNIGLOT_PREPROCESSING, sinusoidFamily } from "@concord/tasks";
import { createRegistry } from "../builtins.js";
import { disposeCheckpoint, loadCheckpoint } from "../checkpoint.js";
import { EXIT_BAD_INPUT, EXIT_OK, runCli } from "../cli.js";
import { parseConfig } from "../config.js";
import { runExperiment } from "../run.js";
import { tinyConfig } from "../testing/tiny-config.js";
import { exportCheckpoint } from "./export.js";

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
    const { perTaskLoss, perTaskAccuracy: _, ...evaluation } = JSON.parse(readFileSync(join(runDir, "evaluation.json"), "utf8"));
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
    expect((await exportCheckpoint(join(runDir, "checkpoint.ckpt"), mkdtempSync(join(tmpdir(), "concord-export-default-")))).spec.preprocessing).toEqual({ kind: "none" });
  });

  it("a missing checkpoint is one line naming the file, exit 2", async () => {
    const cwd = mkdtempSync(join(tmpdir(), "concord-export-bad-"));
    const result = await cli(["export", "nothing.ckpt", "--out", "out"], cwd);
    expect(result.code).toBe(EXIT_BAD_INPUT);
    expect(result.stderr).toBe(`concord: ${join(cwd, "nothing.ckpt")}: checkpoint file not found\n`);
  });
});
