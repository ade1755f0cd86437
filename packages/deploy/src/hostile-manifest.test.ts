// A model.json is untrusted input: every claim it makes is checked against the manifest, the shards
// and the caps before anything is allocated or read (issue 20, items 1 and 12).
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as tf from "@tensorflow/tfjs-core";
import { ConcordError, createRng, type Model } from "@concord/core";
import { DEFAULT_PLUGINS } from "./factories.js";
import { type MlpOptions, mlp } from "@concord/models";
import { OMNIGLOT_PREPROCESSING } from "@concord/tasks";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type MetaModelLoadOptions, type MetaModelReader, metaModelArtifacts, type MetaModelSpec } from "./index.js";
import { folderReader, loadMetaModel, saveMetaModel } from "./node/index.js";

const smallSpec: MetaModelSpec = {
  model: { name: "mlp", options: { sizes: [1, 4, 1], init: "pytorch" } },
  objective: { name: "mse", options: {} },
  innerOptimizer: { name: "sgd", options: { lr: 0.01 } },
  innerSteps: 1,
  inputShape: [1],
  labelCount: null,
  preprocessing: { kind: "none" },
  training: null,
  evaluation: null,
};

const folders: string[] = [];
const folder = () => {
  const dir = mkdtempSync(join(tmpdir(), "concord-hostile-"));
  folders.push(dir);
  return dir;
};

beforeAll(async () => {
  await tf.setBackend("cpu");
});
afterAll(() => {
  for (const dir of folders) rmSync(dir, { recursive: true, force: true });
});

// biome-ignore lint/suspicious/noExplicitAny: the fixtures edit model.json freely
type Json = Record<string, any>;

/** A valid export of `spec` in a fresh folder, then model.json rewritten by `edit`. */
async function exportThenEdit(edit: (json: Json) => void, spec: MetaModelSpec = smallSpec): Promise<string> {
  const params = (DEFAULT_PLUGINS.definition("model", spec.model.name)!.create(spec.model.options) as Model).init(createRng(1));
  const dir = folder();
  await saveMetaModel(dir, metaModelArtifacts(params, spec));
  tf.dispose(Object.values(params));
  const json = JSON.parse(readFileSync(join(dir, "model.json"), "utf8")) as Json;
  edit(json);
  writeFileSync(join(dir, "model.json"), JSON.stringify(json));
  return dir;
}

/** folderReader that counts what is read and refuses to be asked for anything after `stopReads`. */
function countingReader(dir: string) {
  const inner = folderReader(dir);
  const reads: string[] = [];
  const reader: MetaModelReader = {
    label: inner.label,
    readText: (maxBytes) => inner.readText(maxBytes),
    locateShard: (path) => inner.locateShard!(path),
    readShard: (path, maxBytes) => {
      reads.push(path);
      return inner.readShard(path, maxBytes);
    },
  };
  return { reader, reads };
}

/** Loads and expects a ConcordError whose field matches; no tensor may be left behind. */
async function refusal(source: Parameters<typeof loadMetaModel>[0], options: MetaModelLoadOptions = {}): Promise<ConcordError> {
  const before = tf.memory().numTensors;
  const error = await loadMetaModel(source, options).then(
    (loaded) => {
      tf.dispose(Object.values(loaded.params));
      return undefined;
    },
    (caught: unknown) => caught,
  );
  expect(tf.memory().numTensors).toBe(before);
  expect(error, "expected the load to be refused").toBeInstanceOf(ConcordError);
  return error as ConcordError;
}

/** Model factories whose init throws: proves that a refusal happened before anything was allocated. */
const initForbidden: MetaModelLoadOptions = {
  models: {
    mlp: (options) => ({
      ...mlp(options as unknown as MlpOptions),
      init: () => {
        throw new Error("init must not run while the file is being checked");
      },
    }),
  },
};

describe("issue 20.1: a tiny model.json cannot make the loader build a huge model", () => {
  const hostileJson = (sizes: number[]) => ({
    format: "concord-meta-model",
    generatedBy: "attacker",
    modelTopology: { format: "concord-meta-model", model: "mlp" },
    weightsManifest: [{ paths: ["w.bin"], weights: [{ name: "layer0/weight", shape: [1], dtype: "float32" }] }],
    concord: { ...smallSpec, formatVersion: 1, model: { name: "mlp", options: { sizes } } },
  });

  it("the maintainers' file (mlp [1, 65536, 65536, 1], 4-byte shard) is refused at once, naming the model and the cap", async () => {
    const dir = folder();
    writeFileSync(join(dir, "model.json"), JSON.stringify(hostileJson([1, 65536, 65536, 1])));
    writeFileSync(join(dir, "w.bin"), new Uint8Array(4));
    expect(readFileSync(join(dir, "model.json")).byteLength).toBeLessThan(600);
    const error = await refusal(dir);
    expect(error.field).toBe(`${join(dir, "model.json")}: concord.model`);
    expect(error.message).toContain("4295229441 parameters");
    expect(error.message).toContain("maxParameters");
  });

  it("refused before init or any shard read, with the built-in factory's own shapes (Model.parameterShapes)", async () => {
    const dir = folder();
    writeFileSync(join(dir, "model.json"), JSON.stringify(hostileJson([1, 65536, 65536, 1])));
    writeFileSync(join(dir, "w.bin"), new Uint8Array(4));
    const { reader, reads } = countingReader(dir);
    await refusal(reader, initForbidden);
    expect(reads).toEqual([]);
  });

  it("a model within the cap whose shapes differ from the manifest is refused before init and before reading shards", async () => {
    const dir = folder();
    writeFileSync(join(dir, "model.json"), JSON.stringify(hostileJson([1, 4, 1])));
    writeFileSync(join(dir, "w.bin"), new Uint8Array(4));
    const { reader, reads } = countingReader(dir);
    const error = await refusal(reader, initForbidden);
    expect(error.field).toBe(`${join(dir, "model.json")}: weightsManifest`);
    expect(error.message).toContain("layer0/weight, layer0/bias, layer1/weight, layer1/bias");
    expect(reads).toEqual([]);
  });

  it("model options of absurd length (a million-layer mlp) are refused before the model is built", async () => {
    const dir = await exportThenEdit((json) => {
      json.concord.model.options.sizes = Array.from({ length: 1_000_001 }, () => 1);
    });
    const error = await refusal(dir, initForbidden);
    expect(error.field).toBe(`${join(dir, "model.json")}: concord.model.options`);
    expect(error.message).toContain("at most 65536 characters");
  });

  it("a long list of parameter names is cut short in the message", async () => {
    const dir = await exportThenEdit((json) => {
      json.concord.model.options.sizes = Array.from({ length: 20 }, () => 1);
    });
    const error = await refusal(dir);
    expect(error.field).toBe(`${join(dir, "model.json")}: weightsManifest`);
    expect(error.message).toContain("layer5/bias, … (38 in all) in this order, got layer0/weight, layer0/bias, layer1/weight, layer1/bias");
  });

  it("a manifest claiming a huge weight is refused before the model is built or a shard read", async () => {
    const dir = await exportThenEdit((json) => {
      json.weightsManifest[0].weights[0].shape = [65536, 65536];
    });
    const { reader, reads } = countingReader(dir);
    const error = await refusal(reader, initForbidden);
    expect(error.field).toBe(`${join(dir, "model.json")}: weightsManifest`);
    expect(error.message).toMatch(/4294967305 parameters.*maxParameters 67108864/);
    expect(reads).toEqual([]);
  });

  it("a huge conv net (filters 1e6) is refused the same way", async () => {
    const dir = await exportThenEdit((json) => {
      json.concord.model = { name: "conv-net", options: { ways: 5, filters: 1_000_000, blocks: 4 } };
      json.concord.inputShape = [28, 28, 1];
      json.concord.labelCount = 5;
      json.concord.objective = { name: "cross-entropy", options: {} };
    });
    const error = await refusal(dir);
    expect(error.field).toBe(`${join(dir, "model.json")}: concord.model`);
    expect(error.message).toContain("maxParameters");
  });

  it("maxParameters is an option: a legitimate model is refused below its size and loads at it", async () => {
    const dir = await exportThenEdit(() => {});
    const count = 1 * 4 + 4 + 4 * 1 + 1;
    const error = await refusal(dir, { maxParameters: count - 1 });
    expect(error.message).toContain(`${count} parameters`);
    const loaded = await loadMetaModel(dir, { maxParameters: count });
    expect(Object.keys(loaded.params)).toHaveLength(4);
    tf.dispose(Object.values(loaded.params));
    await expect(loadMetaModel(dir, { maxParameters: -1 })).rejects.toMatchObject({ name: "ConcordError", field: "maxParameters" });
  });

  it("a custom model without parameterShapes is initialised once, but only after the manifest passed its checks", async () => {
    const dir = await exportThenEdit((json) => {
      json.concord.model.name = "plain-mlp";
    });
    let inits = 0;
    const plain: MetaModelLoadOptions = {
      models: {
        "plain-mlp": (options) => {
          const { parameterShapes: _shapes, ...model } = mlp(options as never);
          return {
            ...model,
            init: (rng) => {
              inits++;
              return model.init(rng);
            },
          };
        },
      },
    };
    const loaded = await loadMetaModel(dir, plain);
    expect(inits).toBe(1);
    tf.dispose(Object.values(loaded.params));
    inits = 0;
    await refusal(dir, { ...plain, maxParameters: 3 });
    expect(inits).toBe(0);
  });
});

describe("issue 20.1: malformed manifest entries are ConcordErrors naming the entry", () => {
  const cases: [string, (json: Json) => void, string, RegExp][] = [
    ["a fractional dimension", (json) => (json.weightsManifest[0].weights[0].shape = [1, 4.5]), "weightsManifest[0].weights[0].shape", /integer/],
    ["a negative dimension", (json) => (json.weightsManifest[0].weights[0].shape = [-1, 4]), "weightsManifest[0].weights[0].shape", /integer/],
    ["a dimension as a string", (json) => (json.weightsManifest[0].weights[0].shape = ["1", 4]), "weightsManifest[0].weights[0].shape", /integer/],
    ["a shape that is not an array", (json) => (json.weightsManifest[0].weights[0].shape = 4), "weightsManifest[0].weights[0].shape", /array/],
    ["an unknown dtype", (json) => (json.weightsManifest[0].weights[1].dtype = "float64"), "weightsManifest[0].weights[1].dtype", /"float32".*"float64"/],
    ["a missing dtype", (json) => delete json.weightsManifest[0].weights[1].dtype, "weightsManifest[0].weights[1].dtype", /"float32"/],
    [
      "quantized weights",
      (json) => (json.weightsManifest[0].weights[1].quantization = { dtype: "uint8", scale: 1, min: 0 }),
      "weightsManifest[0].weights[1].quantization",
      /quantiz/,
    ],
    [
      "a duplicate weight name",
      (json) => (json.weightsManifest[0].weights[2].name = "layer0/weight"),
      "weightsManifest[0].weights[2].name",
      /duplicate.*weights\[0\]/,
    ],
    ["an empty weight name", (json) => (json.weightsManifest[0].weights[2].name = ""), "weightsManifest[0].weights[2].name", /non-empty/],
    ["a duplicate shard path", (json) => json.weightsManifest[0].paths.push(json.weightsManifest[0].paths[0]), "weightsManifest[0].paths[1]", /duplicate/],
    ["an innerSteps above the cap", (json) => (json.concord.innerSteps = 1e9), "concord.innerSteps", /maxInnerSteps/],
    ["an input shape of absurd size", (json) => (json.concord.inputShape = [1e6, 1e6, 1]), "concord.inputShape", /maxInputElements/],
    ["an input shape of Infinity (1e400 in the text)", (json) => (json.concord.inputShape = ["INFINITY"]), "concord.inputShape", /integer/],
    [
      "an input shape the model does not take",
      (json) => (json.concord.inputShape = [2]),
      "concord.inputShape",
      /expected \[1\] \(the model's input\), got \[2\]/,
    ],
    [
      "a label count the model does not give",
      (json) => (json.concord.labelCount = 7),
      "concord.labelCount",
      /expected 1 \(the model's outputs\) or null, got 7/,
    ],
    ["a fractional label count", (json) => (json.concord.labelCount = 2.5), "concord.labelCount", /integer/],
    ["an unknown preprocessing kind", (json) => (json.concord.preprocessing = { kind: "magic" }), "concord.preprocessing.kind", /"none", "omniglot-drawing"/],
    ["no preprocessing", (json) => delete json.concord.preprocessing, "concord.preprocessing", /object/],
    ["a training record that is not an object", (json) => (json.concord.training = "x"), "concord.training", /object or null/],
    ["model options that are not a model's", (json) => (json.concord.model.options = { sizes: "big" }), "concord.model.options", /sizes/],
  ];
  for (const [label, edit, field, message] of cases) {
    it(label, async () => {
      const dir = await exportThenEdit(edit);
      // JSON.parse reads 1e400 as Infinity, which JSON.stringify cannot write: put it in the text.
      writeFileSync(join(dir, "model.json"), readFileSync(join(dir, "model.json"), "utf8").replace('"INFINITY"', "1e400"));
      const error = await refusal(dir);
      expect(error.field).toBe(`${join(dir, "model.json")}: ${field}`);
      expect(error.message).toMatch(message);
    });
  }

  it("bytes are counted per weights group: shards that balance only across groups are refused", async () => {
    // Two groups: the first claims layer0 (4 + 4 floats) with the whole shard, the second claims the
    // rest with an empty shard. Totals agree (9 floats), but group 0's shard has 1 float too many.
    const dir = await exportThenEdit((json) => {
      const [w0, b0, w1, b1] = json.weightsManifest[0].weights;
      json.weightsManifest = [
        { paths: ["group1-shard1of1.bin"], weights: [w0, b0] },
        { paths: ["empty.bin"], weights: [w1, b1] },
      ];
    });
    writeFileSync(join(dir, "empty.bin"), new Uint8Array(0));
    const error = await refusal(dir);
    expect(error.field).toBe(join(dir, "group1-shard1of1.bin"));
    expect(error.message).toMatch(/32 bytes/);
  });
});

describe("issue 20.1: preprocessing is checked field by field", () => {
  const omniglotSpec: MetaModelSpec = {
    model: { name: "conv-net", options: { ways: 5, inputShape: [28, 28, 1], filters: 2, blocks: 2 } },
    objective: { name: "cross-entropy", options: {} },
    innerOptimizer: { name: "sgd", options: { lr: 0.1 } },
    innerSteps: 1,
    inputShape: [28, 28, 1],
    labelCount: 5,
    preprocessing: OMNIGLOT_PREPROCESSING,
    training: null,
    evaluation: null,
  };
  it("the real one loads", async () => {
    const dir = await exportThenEdit(() => {}, omniglotSpec);
    const loaded = await loadMetaModel(dir);
    expect(loaded.spec.preprocessing).toEqual(OMNIGLOT_PREPROCESSING);
    tf.dispose(Object.values(loaded.params));
  });
  const cases: [string, (p: Json) => void, string][] = [
    ["an absurd size", (p) => (p.size = [1e9, 1e9]), "size"],
    ["a size other than the input's", (p) => (p.size = [32, 32]), "size"],
    ["a fractional size", (p) => (p.size = [28.5, 28]), "size"],
    ["another resize", (p) => (p.resize = "bicubic"), "resize"],
    ["invert not true", (p) => (p.invert = "yes"), "invert"],
    ["another quantization", (p) => (p.quantization = "float16"), "quantization"],
    ["an empty range", (p) => (p.range = [1, 0]), "range"],
    ["a description that is not text", (p) => (p.description = 5), "description"],
    ["a source of absurd length", (p) => (p.source = "x".repeat(100_000)), "source"],
  ];
  for (const [label, edit, field] of cases) {
    it(label, async () => {
      const dir = await exportThenEdit((json) => edit(json.concord.preprocessing), omniglotSpec);
      const error = await refusal(dir);
      expect(error.field).toBe(`${join(dir, "model.json")}: concord.preprocessing.${field}`);
    });
  }
});

describe("issue 20.12: shards in a folder", () => {
  it("shard paths leaving the folder are refused before anything is read", async () => {
    for (const path of ["../x.bin", "a/../../x.bin", "/etc/passwd", "C:\\x.bin", "a\\..\\..\\x.bin", "\\\\server\\share\\x.bin", "file:///etc/passwd", ""]) {
      const dir = await exportThenEdit((json) => {
        json.weightsManifest[0].paths = [path];
      });
      const { reader, reads } = countingReader(dir);
      const error = await refusal(reader);
      expect(error.field, path).toBe(`${join(dir, "model.json")}: weightsManifest[0].paths[0]`);
      expect(error.message, path).toContain("inside the export folder");
      expect(reads, path).toEqual([]);
    }
  });

  it("a shard named with two dots that stays inside the folder loads", async () => {
    const dir = await exportThenEdit((json) => {
      json.weightsManifest[0].paths = ["weights..1.bin"];
    });
    writeFileSync(join(dir, "weights..1.bin"), readFileSync(join(dir, "group1-shard1of1.bin")));
    const loaded = await loadMetaModel(dir);
    tf.dispose(Object.values(loaded.params));
  });

  it("two spellings of one shard are one shard, fetched once: refused", async () => {
    const dir = await exportThenEdit((json) => {
      json.weightsManifest[0].paths = ["group1-shard1of1.bin", "./group1-shard1of1.bin"];
    });
    const { reader, reads } = countingReader(dir);
    const error = await refusal(reader);
    expect(error.field).toBe(`${join(dir, "model.json")}: weightsManifest[0].paths[1]`);
    expect(error.message).toContain("same shard as weightsManifest[0].paths[0]");
    expect(reads).toEqual([]);
  });

  it("a shard larger than the manifest implies is refused without being read", async () => {
    const dir = await exportThenEdit(() => {});
    writeFileSync(join(dir, "group1-shard1of1.bin"), new Uint8Array(1 << 20));
    const error = await refusal(dir);
    expect(error.field).toBe(join(dir, "group1-shard1of1.bin"));
    expect(error.message).toBe(`${join(dir, "group1-shard1of1.bin")}: expected at most 52 bytes (what the manifest implies), the file has 1048576`);
  });

  it("a shard that is a folder is refused", async () => {
    const dir = await exportThenEdit(() => {});
    rmSync(join(dir, "group1-shard1of1.bin"));
    const { mkdirSync } = await import("node:fs");
    mkdirSync(join(dir, "group1-shard1of1.bin"));
    const error = await refusal(dir);
    expect(error.field).toBe(join(dir, "group1-shard1of1.bin"));
    expect(error.message).toContain("not a regular file");
  });

  it("a model.json above maxModelJsonBytes is refused before it is read", async () => {
    const dir = await exportThenEdit((json) => {
      json.concord.training = { padding: "x".repeat(5000) };
    });
    const error = await refusal(dir, { maxModelJsonBytes: 4096 });
    expect(error.field).toBe(join(dir, "model.json"));
    expect(error.message).toMatch(/at most 4096 bytes.*maxModelJsonBytes/);
  });
});

describe("a File list is checked the same way", () => {
  it("an oversized shard file and an oversized model.json are refused before they are read", async () => {
    const { filesReader } = await import("./index.js");
    const dir = await exportThenEdit(() => {});
    const json = readFileSync(join(dir, "model.json"));
    const hugeShard = new File([new Uint8Array(1 << 20)], "group1-shard1of1.bin");
    let error = await refusal(filesReader([new File([json], "model.json"), hugeShard]));
    expect(error.field).toBe("group1-shard1of1.bin");
    expect(error.message).toContain("expected at most 52 bytes");
    error = await refusal(filesReader([new File([json], "model.json"), hugeShard]), { maxModelJsonBytes: 100 });
    expect(error.field).toBe("model.json");
  });
});
