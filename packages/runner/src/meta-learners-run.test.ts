import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { disposeParams, type Params } from "@concord/core";
import { describe, expect, it } from "vitest";
import { createRegistry } from "./builtins.js";
import { parseConfig } from "./config.js";
import { runExperiment } from "./run-experiment.js";
import { tinyConfig } from "./testing/tiny-config.js";

const folder = () => mkdtempSync(join(tmpdir(), "concord-meta-learners-"));
const quiet = { progress: "none" as const };
const bytes = (params: Params) =>
  Object.entries(params)
    .map(([name, tensor]) => `${name}:${Array.from(tensor.dataSync()).join(",")}`)
    .join("|");

describe("Meta-SGD and ANIL through configs", () => {
  it("meta-sgd: the rates lr/<name> join the parameters, start at lr, are learned, and resume bit-identically", async () => {
    const config = (iterations: number) => parseConfig(tinyConfig({ iterations, innerOptimizer: { name: "meta-sgd", lr: 0.05 } }));
    const whole = await runExperiment(config(12), { outDir: folder(), evaluate: false, ...quiet });
    expect(Object.keys(whole.params)).toEqual([
      "layer0/weight",
      "layer0/bias",
      "layer1/weight",
      "layer1/bias",
      "lr/layer0/weight",
      "lr/layer0/bias",
      "lr/layer1/weight",
      "lr/layer1/bias",
    ]);
    const rates = Array.from(whole.params["lr/layer0/weight"]!.dataSync());
    expect(rates.some((rate) => Math.abs(rate - 0.05) > 1e-6)).toBe(true); // the outer optimizer moved them
    const outDir = folder();
    disposeParams((await runExperiment(config(7), { outDir, evaluate: false, ...quiet })).params);
    const resumed = await runExperiment(config(12), { outDir, resume: true, ...quiet });
    expect(bytes(resumed.params)).toBe(bytes(whole.params));
    expect(resumed.evaluation?.loss.every((step) => Number.isFinite(step.mean))).toBe(true); // evaluation adapts with the learned rates
    disposeParams(whole.params);
    disposeParams(resumed.params);
  });

  it('maml with adapt "head" trains and evaluates; the option is checked by the schema and against the model', async () => {
    const result = await runExperiment(parseConfig(tinyConfig({ iterations: 4, algorithm: { name: "maml", order: 2, innerSteps: 1, adapt: "head" } })), {
      outDir: folder(),
      ...quiet,
    });
    expect(result.evaluation?.loss).toHaveLength(3);
    disposeParams(result.params);
    expect(() => createRegistry().create("algorithm", { name: "maml", options: { adapt: 3 } }, "algorithm")).toThrow(/^algorithm\.adapt/);
    await expect(
      runExperiment(parseConfig(tinyConfig({ iterations: 2, algorithm: { name: "fomaml", adapt: ["layer7/bias"] } })), {
        outDir: folder(),
        evaluate: false,
        ...quiet,
      }),
    ).rejects.toThrow(/^adapt: expected names of model parameters .* got unknown \[layer7\/bias\]/);
    expect(() => createRegistry().create("innerOptimizer", { name: "meta-sgd", options: { lr: -1 } }, "innerOptimizer")).toThrow(/lr/);
  });

  it("presets sinusoid-meta-sgd and omniglot-5w1s-anil are registered with their options", () => {
    const registry = createRegistry();
    const presets = registry.presets();
    const byName = new Map(presets.map((preset) => [preset.name, preset]));
    const config = (name: string) => {
      const preset = byName.get(name);
      if (!preset) throw new Error(`preset ${name} is not registered`);
      return preset.config as { innerOptimizer: unknown; algorithm: { adapt?: unknown } };
    };
    expect(config("sinusoid-meta-sgd").innerOptimizer).toEqual({ name: "meta-sgd", lr: 0.01 });
    expect(config("omniglot-5w1s-anil").algorithm.adapt).toBe("head");
  });
});
