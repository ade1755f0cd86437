import { catchConcordError } from "@concord/core/testing";
import { describe, expect, it } from "vitest";
import { omniglotFamily } from "@concord/tasks/node";
import { configToJson, firstResultDifference, firstTrainingDifference, parseConfig, parseConfigText, withDataDir, withOverrides } from "./config.js";
import { createRegistry } from "./builtins.js";
import { listPresets, presetConfig, presetNames } from "./presets.js";
import { tinyConfig } from "./testing/tiny-config.js";

describe("parseConfig", () => {
  it("normalises plug-in names and objects to { name, options } and fills defaults", () => {
    const config = parseConfig(tinyConfig({ weighting: { name: "agreement", eps: 0 } }));
    expect(config.weighting).toEqual({ name: "agreement", options: { eps: 0 } });
    expect(config.objective).toEqual({ name: "mse", options: {} });
    expect(config.evaluation.seed).toBeTypeOf("number");
    expect(config.compare.algorithms).toEqual({});
  });

  it("round-trips through configToJson", () => {
    const config = parseConfig(tinyConfig());
    expect(parseConfig(configToJson(config))).toEqual(config);
  });

  it.each([
    [{ iterations: -5 }, "iterations: expected a number >= 0, got -5"],
    [{ metaBatchSize: 0 }, "metaBatchSize: expected a number >= 1, got 0"],
    [{ iterations: "100" }, 'iterations: expected a number, got "100"'],
    [{ iterations: 2.5 }, "iterations: expected an integer, got 2.5"],
    [{ backend: "gpu" }, 'backend: expected one of "auto", "cpu", "wasm", "webgl", "native", got "gpu" (did you mean "cpu"?)'],
    [{ model: 42 }, 'model: expected a plug-in name (string) or an object with a string "name" field, got 42'],
    [{ evaluation: { tasks: 0 } }, "evaluation.tasks: expected a number >= 1, got 0"],
  ])("refuses %j with one clear line", (override, message) => {
    const error = catchConcordError(() => parseConfig(tinyConfig(override as never)));
    expect(error.message).toBe(message);
    expect(error.message).not.toContain("\n");
  });

  it("names a missing required field", () => {
    const { algorithm: _algorithm, ...rest } = tinyConfig();
    expect(catchConcordError(() => parseConfig(rest)).message).toBe(
      'algorithm: expected a plug-in name (string) or an object with a string "name" field, got nothing',
    );
  });

  it("rejects an unknown field with a suggestion", () => {
    const error = catchConcordError(() => parseConfig({ ...tinyConfig(), metaBatchSzie: 4 }));
    expect(error.message).toBe('metaBatchSzie: unknown field; did you mean "metaBatchSize"?');
    expect(catchConcordError(() => parseConfig(tinyConfig({ evaluation: { task: 5 } as never }))).message).toBe(
      'evaluation.task: unknown field; did you mean "tasks"?',
    );
  });

  it("reports malformed JSON and YAML with the file name", () => {
    expect(catchConcordError(() => parseConfigText('{ "seed": 1,', "bad.json")).message).toMatch(/^bad\.json: expected valid JSON, got a syntax error: /);
    expect(catchConcordError(() => parseConfigText("seed: [1,", "bad.yaml")).message).toMatch(/^bad\.yaml: expected valid YAML, got a syntax error: /);
    expect(parseConfigText("seed: 4\niterations: 2\n", "ok.yml")).toEqual({ seed: 4, iterations: 2 });
  });

  it("applies command-line overrides through the same validation", () => {
    const config = parseConfig(tinyConfig());
    expect(withOverrides(config, { iterations: 7, seed: 9 }).iterations).toBe(7);
    expect(catchConcordError(() => withOverrides(config, { iterations: -1 })).field).toBe("iterations");
  });

  it("skipKernels takes Concord's kernel names and names the bad entry", () => {
    expect(parseConfig(tinyConfig()).skipKernels).toEqual([]);
    expect(parseConfig(tinyConfig({ skipKernels: ["batch-norm-grad-grad"] })).skipKernels).toEqual(["batch-norm-grad-grad"]);
    expect(catchConcordError(() => parseConfig(tinyConfig({ skipKernels: ["batch-norm-gradgrad"] as never }))).message).toMatch(
      /^skipKernels\[0\]: expected one of .*"batch-norm-grad-grad".*, got "batch-norm-gradgrad"/,
    );
  });

  it("keepCheckpoints takes positive iteration numbers and names the bad entry", () => {
    expect(parseConfig(tinyConfig()).keepCheckpoints).toEqual([]);
    expect(parseConfig(tinyConfig({ keepCheckpoints: [5000, 10000] })).keepCheckpoints).toEqual([5000, 10000]);
    expect(catchConcordError(() => parseConfig(tinyConfig({ keepCheckpoints: [10, 0] }))).message).toMatch(/^keepCheckpoints\[1\]: /);
  });

  it("finds the first difference that matters for resuming (iterations and evaluation may change)", () => {
    const a = parseConfig(tinyConfig());
    expect(firstTrainingDifference(a, parseConfig(tinyConfig({ iterations: 99, evaluation: { tasks: 3 }, keepCheckpoints: [50] })))).toBeUndefined();
    expect(firstTrainingDifference(a, parseConfig(tinyConfig({ seed: 4 })))).toEqual({ field: "seed", a: 3, b: 4 });
    // Leaving a kernel out changes float32 rounding: such a run cannot resume one made with it.
    expect(firstTrainingDifference(a, parseConfig(tinyConfig({ seed: 3, skipKernels: ["cross-entropy"] })))?.field).toBe("skipKernels[0]");
    expect(firstTrainingDifference(a, parseConfig(tinyConfig({ innerOptimizer: { name: "sgd", lr: 0.02 } })))?.field).toBe("innerOptimizer.lr");
    // The data folder may move between runs.
    expect(firstTrainingDifference(withDataDir(a, "/data/a"), withDataDir(a, "/data/b"))).toBeUndefined();
  });

  it("finds the first difference that changes a finished run's result (logging and checkpoint cadence do not)", () => {
    const a = parseConfig(tinyConfig());
    expect(firstResultDifference(a, parseConfig(tinyConfig({ checkpointEvery: 7, logEvery: 3, keepCheckpoints: [2] })))).toBeUndefined();
    expect(firstResultDifference(withDataDir(a, "/data/a"), withDataDir(a, "/data/b"))).toBeUndefined();
    expect(firstResultDifference(a, parseConfig(tinyConfig({ iterations: 99 })))?.field).toBe("iterations");
    expect(firstResultDifference(a, parseConfig(tinyConfig({ evaluation: { tasks: 3 } })))?.field).toBe("evaluation.tasks");
    expect(firstResultDifference(a, parseConfig(tinyConfig({ seed: 4 })))?.field).toBe("seed");
  });
});

describe("presets", () => {
  it("every preset is a valid config with a one-line description", () => {
    for (const preset of listPresets()) {
      expect(presetConfig(preset.name).iterations).toBeGreaterThan(0);
      expect(preset.description).not.toContain("\n");
    }
    expect(presetNames()).toEqual(expect.arrayContaining(["sinusoid", "sinusoid-ga-paper", "sinusoid-outliers"]));
  });

  it("the Omniglot presets (from @concord/tasks/node) pass the config schema with a test-split evaluation sampler", () => {
    const names = presetNames().filter((name) => name.startsWith("omniglot-"));
    expect(names).toHaveLength(12); // 5w1s, 5w5s, 20w1s, 20w5s, each second and first order, 5w1s-label-noise, 5w1s-anil, 5w5s-label-noise, 5w1s-alphabets
    for (const name of names) {
      const config = presetConfig(name);
      expect(config.tasks.options.split).toBe("train");
      expect(config.evaluation.sampler?.options.split).toBe("test");
    }
  });

  it("the label-noise Omniglot preset shuffles 20% of training tasks and evaluates on clean tasks", () => {
    const config = presetConfig("omniglot-5w1s-label-noise");
    expect(config.tasks.options.labelNoise).toBe(0.2);
    expect(config.evaluation.sampler?.options.labelNoise).toBeUndefined();
    expect(omniglotFamily.evaluationOptions?.({ ways: 5, shots: 1, labelNoise: 0.2 })).toEqual({ ways: 5, shots: 1 });
  });

  it("lists a plug-in family's presets after the built-ins and refuses a preset name already taken", () => {
    const registry = createRegistry();
    const family = (name: string, preset: string) => ({
      kind: "tasks" as const,
      name,
      create: () => ({ name, sample: () => [] }),
      presets: [{ name: preset, description: "mine", config: { ...tinyConfig(), tasks: name } }],
    });
    registry.define(family("lines", "lines-small"), "./lines.js");
    expect(presetNames(registry).at(-1)).toBe("lines-small");
    expect(presetConfig("lines-small", registry).tasks.name).toBe("lines");
    expect(catchConcordError(() => registry.define(family("other", "sinusoid"), "./other.js")).message).toBe(
      "tasks plug-in 'other' from ./other.js: preset 'sinusoid' is already offered by tasks 'sinusoid' (from built-in); choose another name",
    );
  });

  it("refuses an unknown preset with a suggestion", () => {
    expect(catchConcordError(() => presetConfig("sinusiod")).message).toMatch(
      /^preset: expected a config file or one of the presets .*, got "sinusiod" \(did you mean "sinusoid"\?\)$/,
    );
  });

  it("sinusoid follows the MAML paper and sinusoid-ga-paper the GA paper", () => {
    const maml = presetConfig("sinusoid");
    expect(maml.model.options).toMatchObject({ sizes: [1, 40, 40, 1], activation: "relu" });
    expect(maml).toMatchObject({ metaBatchSize: 25, innerOptimizer: { options: { lr: 0.01 } }, outerOptimizer: { name: "adam", options: { lr: 0.001 } } });
    const ga = presetConfig("sinusoid-ga-paper");
    expect(ga.model.options).toMatchObject({ sizes: [1, 64, 64, 1] });
    expect(ga.tasks.options).toMatchObject({ phase: [0, 2 * Math.PI], supportSize: 10 });
    expect(ga.evaluation.tasks).toBe(1000);
    expect(presetConfig("sinusoid-outliers").tasks.options).toMatchObject({ corruption: { fraction: 0.2 } });
  });

  it("the sinusoid presets pin the wasm engine (pnpm start prints the same numbers where auto would pick native)", () => {
    const sinusoidPresets = presetNames().filter((name) => name.startsWith("sinusoid"));
    expect(sinusoidPresets.length).toBeGreaterThanOrEqual(4);
    for (const name of sinusoidPresets) expect([name, presetConfig(name).backend]).toEqual([name, "wasm"]);
  });
});
