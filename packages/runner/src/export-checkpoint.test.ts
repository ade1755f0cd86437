import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type AnyPluginDefinition, createRng } from "@concord/core";
import { loadMetaModel } from "@concord/deploy/node";
import { mlp, type MlpOptions, modelDefinitions } from "@concord/models";
import * as tf from "@tensorflow/tfjs-core";
import { describe, expect, it } from "vitest";
import { createRegistry } from "./builtins.js";
import { disposeCheckpoint, loadCheckpoint, saveCheckpoint } from "./checkpoint.js";
import { configToJson, parseConfig } from "./config.js";
import { exportCheckpoint } from "./export-checkpoint.js";
import { runExperiment } from "./run-experiment.js";
import { tinyConfig } from "./testing/tiny-config.js";

const bitsOf = (tensor: tf.Tensor) => Array.from(new Uint32Array((tensor.dataSync() as Float32Array).slice().buffer));

/** Trains a tiny run with `registry` and returns its checkpoint path. */
async function trainedCheckpoint(overrides: Parameters<typeof tinyConfig>[0], registry = createRegistry()): Promise<string> {
  const runDir = mkdtempSync(join(tmpdir(), "concord-export-def-"));
  const result = await runExperiment(parseConfig(tinyConfig({ iterations: 3, ...overrides })), { outDir: runDir, progress: "none", evaluate: false, registry });
  tf.dispose(Object.values(result.params));
  return join(runDir, "checkpoint.ckpt");
}

describe("exports record definition names, and anything registered loads", () => {
  it("a Meta-SGD run exports and loads: the rates lr/<name> come back bit for bit, the inner optimizer is meta-sgd", async () => {
    const checkpointPath = await trainedCheckpoint({ innerOptimizer: { name: "meta-sgd", lr: 0.01 } });
    const outDir = mkdtempSync(join(tmpdir(), "concord-export-meta-sgd-"));
    const exported = await exportCheckpoint(checkpointPath, outDir);
    expect(exported.spec.innerOptimizer).toEqual({ name: "meta-sgd", options: { lr: 0.01 } });

    const checkpoint = loadCheckpoint(checkpointPath);
    const before = tf.memory().numTensors;
    const loaded = await loadMetaModel(outDir);
    expect(loaded.innerOptimizer.name).toBe("meta-sgd");
    expect(Object.keys(loaded.params)).toEqual(Object.keys(checkpoint.params));
    expect(Object.keys(loaded.params).filter((name) => name.startsWith("lr/"))).toEqual([
      "lr/layer0/weight",
      "lr/layer0/bias",
      "lr/layer1/weight",
      "lr/layer1/bias",
    ]);
    for (const [name, tensor] of Object.entries(checkpoint.params)) expect(bitsOf(loaded.params[name]!), name).toEqual(bitsOf(tensor));
    tf.dispose(Object.values(loaded.params));
    expect(tf.memory().numTensors).toBe(before);
    disposeCheckpoint(checkpoint);
  });

  it("a model registered by a third party exports through its definition and loads with the same registry", async () => {
    const mlpDefinition = modelDefinitions.find((definition) => definition.name === "mlp")!;
    const registry = createRegistry();
    registry.define(
      { ...mlpDefinition, name: "my-mlp", create: (options: unknown) => ({ ...mlp(options as MlpOptions), name: "my-mlp" }) } as AnyPluginDefinition,
      "test",
    );
    const checkpointPath = await trainedCheckpoint({ model: { name: "my-mlp", sizes: [1, 8, 1], init: "pytorch" } }, registry);
    const outDir = mkdtempSync(join(tmpdir(), "concord-export-my-mlp-"));
    const exported = await exportCheckpoint(checkpointPath, outDir, registry);
    expect(exported.spec).toMatchObject({ model: { name: "my-mlp" }, inputShape: [1], labelCount: null });

    await expect(loadMetaModel(outDir)).rejects.toThrow(/concord\.model\.name: unknown name "my-mlp"; known: "mlp", "conv-net"/);
    const loaded = await loadMetaModel(outDir, { plugins: registry });
    expect(loaded.model.name).toBe("my-mlp");
    tf.dispose(Object.values(loaded.params));
  });

  it("labelCount comes from the objective's definition (classes), not from its name", async () => {
    const registry = createRegistry();
    const crossEntropy = registry.definition("objective", "cross-entropy")!;
    registry.define({ ...crossEntropy, name: "my-cross-entropy" } as AnyPluginDefinition, "test");
    // A 3-output MLP's parameters under a classification objective of another name, and under mse.
    const checkpointAt = (objective: string) => {
      const path = join(mkdtempSync(join(tmpdir(), "concord-export-classes-")), "checkpoint.ckpt");
      const config = configToJson(parseConfig(tinyConfig({ model: { name: "mlp", sizes: [1, 8, 3] }, objective })));
      const params = mlp({ sizes: [1, 8, 3] }).init(createRng(1));
      saveCheckpoint(path, {
        iteration: 1,
        params,
        optimizerState: { name: "adam", step: 1, slots: {} },
        taskRngState: createRng(2).getState(),
        config,
        metricsOffset: 0,
        fallbacks: 0,
        backend: "cpu",
        elapsedSeconds: 0,
      });
      tf.dispose(Object.values(params));
      return path;
    };
    const exported = await exportCheckpoint(checkpointAt("my-cross-entropy"), mkdtempSync(join(tmpdir(), "concord-export-classes-out-")), registry);
    expect(exported.spec.labelCount).toBe(3);
    expect((await exportCheckpoint(checkpointAt("mse"), mkdtempSync(join(tmpdir(), "concord-export-values-out-")), registry)).spec.labelCount).toBeNull();
  });

  it("a model whose definition does not state its shape is refused with the reason, nothing written", async () => {
    const mlpDefinition = modelDefinitions.find((definition) => definition.name === "mlp")!;
    const registry = createRegistry();
    const { shape: _shape, ...withoutShape } = mlpDefinition;
    registry.define({ ...withoutShape, name: "shapeless" } as AnyPluginDefinition, "test");
    const checkpointPath = await trainedCheckpoint({ model: { name: "shapeless", sizes: [1, 8, 1] } }, registry);
    await expect(exportCheckpoint(checkpointPath, mkdtempSync(join(tmpdir(), "concord-export-shapeless-")), registry)).rejects.toThrow(
      /model: model "shapeless" cannot be exported: its plug-in definition has no shape\(model\)/,
    );
  });
});
