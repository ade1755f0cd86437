// An export is published: it must not carry the trainer's machine-local paths (issue 20, item 2).
import * as tf from "@tensorflow/tfjs-core";
import { ConcordError, createRng } from "@concord/core";
import { type MlpOptions, mlp } from "@concord/models";
import { OMNIGLOT_PREPROCESSING } from "@concord/tasks";
import { beforeAll, describe, expect, it } from "vitest";
import { metaModelArtifacts, type MetaModelSpec } from "./index.js";
import { machineLocalPath } from "./portable.js";

const spec: MetaModelSpec = {
  model: { name: "mlp", options: { sizes: [1, 4, 1], init: "pytorch" } },
  objective: { name: "mse", options: {} },
  innerOptimizer: { name: "sgd", options: { lr: 0.01 } },
  innerSteps: 1,
  inputShape: [1],
  labelCount: null,
  preprocessing: OMNIGLOT_PREPROCESSING,
  training: { config: { tasks: { name: "omniglot", ways: 5 } }, iteration: 3 },
  evaluation: null,
};

beforeAll(async () => {
  await tf.setBackend("cpu");
});

describe("machineLocalPath", () => {
  const local = [
    "/work/shared/data/omniglot",
    "/tmp",
    "trained on /home/alice/data today",
    "C:\\Users\\alice\\omniglot",
    "d:/data",
    "\\\\server\\share\\omniglot",
    "~/data/omniglot",
    "~alice/data",
    "file:///home/alice/model",
    "FILE:/c:/x",
  ];
  const portable = [
    "omniglot",
    "train",
    "transductive",
    "grey = PNG value / max (white 1, strokes 0); area-resize 105x105 -> 28x28",
    "https://example.com/models/omniglot/",
    "a/b",
    "1/2",
    "",
    "cpu,wasm",
    "2026-12-01T01:12:45.373Z",
  ];
  for (const text of local) it(`finds ${JSON.stringify(text)}`, () => expect(machineLocalPath(text)).toBe(true));
  for (const text of portable) it(`passes ${JSON.stringify(text)}`, () => expect(machineLocalPath(text)).toBe(false));
});

describe("metaModelArtifacts refuses a spec that carries a machine-local path", () => {
  const params = () => mlp(spec.model.options as unknown as MlpOptions).init(createRng(1));

  it("a clean spec (with the Omniglot preprocessing text) is written", () => {
    const p = params();
    expect(metaModelArtifacts(p, spec).modelJson.concord.training).toEqual(spec.training);
    tf.dispose(Object.values(p));
  });

  const cases: [string, MetaModelSpec, string][] = [
    [
      "a data folder in the training record",
      { ...spec, training: { config: { tasks: { name: "omniglot", dataDir: "/work/shared/data/omniglot" } } } },
      "spec.training.config.tasks.dataDir",
    ],
    ["a Windows path in an array", { ...spec, training: { dirs: ["ok", "C:\\data"] } }, "spec.training.dirs[1]"],
    ["a path in a model option", { ...spec, model: { name: "mlp", options: { sizes: [1, 4, 1], weights: "~/w.bin" } } }, "spec.model.options.weights"],
    ["a path in the evaluation", { ...spec, evaluation: { from: "file:///runs/a/evaluation.json" } }, "spec.evaluation.from"],
  ];
  for (const [label, bad, field] of cases) {
    it(label, () => {
      const p = params();
      let caught: unknown;
      try {
        metaModelArtifacts(p, bad);
      } catch (error) {
        caught = error;
      }
      tf.dispose(Object.values(p));
      expect(caught).toBeInstanceOf(ConcordError);
      expect((caught as ConcordError).field).toBe(field);
      expect((caught as ConcordError).message).toContain("machine-local path");
    });
  }
});
