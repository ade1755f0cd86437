import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as tf from "@tensorflow/tfjs-core";
import "@tensorflow/tfjs-backend-cpu";
import { adapt } from "@concord/algorithms";
import { createRng, type Model, type Params } from "@concord/core";
import { type MlpOptions, mlp } from "@concord/models";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { OMNIGLOT_PREPROCESSING } from "@concord/tasks";
import { filesReader, metaModelArtifacts, type MetaModelSpec } from "./index.js";
import { folderReader, loadMetaModel, saveMetaModel } from "./node/index.js";
import { DEFAULT_PLUGINS } from "./factories.js";

const mlpSpec: MetaModelSpec = {
  model: { name: "mlp", options: { sizes: [1, 40, 40, 1], init: "pytorch" } },
  objective: { name: "mse", options: {} },
  innerOptimizer: { name: "sgd", options: { lr: 0.01 } },
  innerSteps: 1,
  inputShape: [1],
  labelCount: null,
  preprocessing: { kind: "none" },
  training: { iterations: 10 },
  evaluation: null,
};
const convSpec: MetaModelSpec = {
  model: { name: "conv-net", options: { ways: 5, inputShape: [28, 28, 1], filters: 8, blocks: 4 } },
  objective: { name: "cross-entropy", options: {} },
  innerOptimizer: { name: "sgd", options: { lr: 0.1 } },
  innerSteps: 3,
  inputShape: [28, 28, 1],
  labelCount: 5,
  preprocessing: OMNIGLOT_PREPROCESSING,
  training: null,
  evaluation: null,
};

const folders: string[] = [];
const folder = () => {
  const dir = mkdtempSync(join(tmpdir(), "concord-deploy-"));
  folders.push(dir);
  return dir;
};

function initParams(spec: MetaModelSpec, seed: number): Params {
  const factory = (options: Readonly<Record<string, unknown>>) => DEFAULT_PLUGINS.definition("model", spec.model.name)!.create(options) as Model;
  return factory(spec.model.options).init(createRng(seed));
}

function bits(tensor: tf.Tensor): number[] {
  const values = tensor.dataSync() as Float32Array;
  return Array.from(new Uint32Array(values.buffer.slice(values.byteOffset, values.byteOffset + values.byteLength)));
}

function expectSameBits(loaded: Params, original: Params): void {
  expect(Object.keys(loaded)).toEqual(Object.keys(original));
  for (const name of Object.keys(original)) {
    expect(loaded[name]!.shape, name).toEqual(original[name]!.shape);
    expect(bits(loaded[name]!), name).toEqual(bits(original[name]!));
  }
}

let server: Server;
let baseUrl = "";
const served = new Map<string, Uint8Array>();

beforeAll(async () => {
  await tf.setBackend("cpu");
  server = createServer((request, response) => {
    const body = served.get(request.url ?? "");
    if (!body) {
      response.writeHead(404).end();
      return;
    }
    response.writeHead(200, { "content-type": request.url?.endsWith(".json") ? "application/json" : "application/octet-stream" }).end(body);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await new Promise((resolve) => server.close(resolve));
  for (const dir of folders) rmSync(dir, { recursive: true, force: true });
});

function serveFolder(prefix: string, dir: string, files: readonly string[]): void {
  for (const name of files) served.set(`/${prefix}/${name}`, readFileSync(join(dir, name)));
}

describe("export → load round trip", () => {
  for (const [label, spec] of [
    ["mlp", mlpSpec],
    ["convNet", convSpec],
  ] as const) {
    it(`${label}: a folder written by saveMetaModel loads bit for bit, with the spec, and adapts`, async () => {
      const original = initParams(spec, 7);
      const dir = folder();
      const before = tf.memory().numTensors;
      await saveMetaModel(dir, metaModelArtifacts(original, spec));
      const loaded = await loadMetaModel(dir);
      expectSameBits(loaded.params, original);
      expect(loaded.spec).toEqual({ formatVersion: 1, ...spec });
      expect(loaded.model.name).toBe(spec.model.name);
      expect(loaded.innerSteps).toBe(spec.innerSteps);
      // Ready for adapt(): one inner step changes the parameters.
      tf.tidy(() => {
        const k = 5;
        const x = tf.randomUniform([k, ...spec.inputShape], 0, 1, "float32", 1);
        const y = spec.labelCount === null ? tf.randomNormal([k, 1], 0, 1, "float32", 2) : tf.tensor1d([0, 1, 2, 3, 4], "int32");
        const adapted = adapt(loaded.params, { x, y }, loaded);
        const name = Object.keys(original)[0]!;
        expect(tf.max(tf.abs(tf.sub(adapted.params[name]!, original[name]!))).dataSync()[0]).toBeGreaterThan(0);
      });
      tf.dispose([...Object.values(loaded.params)]);
      expect(tf.memory().numTensors).toBe(before);
      tf.dispose(Object.values(original));
    });
  }

  it("shards stay within the size limit, and tf.io.http in Node reads the same weights across shards", async () => {
    const original = initParams(mlpSpec, 3);
    const artifacts = metaModelArtifacts(original, mlpSpec, { shardBytes: 4096 });
    expect(artifacts.shards.length).toBe(Math.ceil(((1 * 40 + 40 + 40 * 40 + 40 + 40 + 1) * 4) / 4096));
    for (const shard of artifacts.shards) expect(shard.data.byteLength).toBeLessThanOrEqual(4096);
    const dir = folder();
    await saveMetaModel(dir, artifacts);
    serveFolder("mlp", dir, ["model.json", ...artifacts.shards.map((shard) => shard.path)]);

    const viaTfIo = await tf.io.http(`${baseUrl}/mlp/model.json`).load!();
    const weightData = tf.io.concatenateArrayBuffers(viaTfIo.weightData as ArrayBuffer | ArrayBuffer[]);
    const tensors = tf.io.decodeWeights(weightData, viaTfIo.weightSpecs!);
    expectSameBits(tensors, original);

    const viaUrl = await loadMetaModel(`${baseUrl}/mlp/`);
    expectSameBits(viaUrl.params, original);
    tf.dispose([...Object.values(tensors), ...Object.values(viaUrl.params), ...Object.values(original)]);
  });

  it("reads a File list the way tf.io.browserFiles is given one", async () => {
    const original = initParams(mlpSpec, 4);
    const artifacts = metaModelArtifacts(original, mlpSpec);
    const files = [
      new File([JSON.stringify(artifacts.modelJson)], "model.json"),
      ...artifacts.shards.map((shard) => new File([new Uint8Array(shard.data)], shard.path)),
    ];
    const loaded = await loadMetaModel(filesReader(files));
    expectSameBits(loaded.params, original);
    tf.dispose([...Object.values(loaded.params), ...Object.values(original)]);
  });
});

describe("bad exports are ConcordErrors naming the file and field", () => {
  async function exported(): Promise<{ dir: string; json: Record<string, unknown> }> {
    const params = initParams(mlpSpec, 1);
    const dir = folder();
    await saveMetaModel(dir, metaModelArtifacts(params, mlpSpec));
    tf.dispose(Object.values(params));
    return { dir, json: JSON.parse(readFileSync(join(dir, "model.json"), "utf8")) };
  }
  const rewrite = (dir: string, json: unknown) => writeFileSync(join(dir, "model.json"), JSON.stringify(json));
  const failure = async (dir: string) => {
    const before = tf.memory().numTensors;
    const error = await loadMetaModel(dir).then(
      () => undefined,
      (caught: unknown) => caught as Error & { field?: string },
    );
    expect(tf.memory().numTensors).toBe(before);
    expect(error?.name).toBe("ConcordError");
    return error!;
  };

  it("missing weightsManifest", async () => {
    const { dir, json } = await exported();
    delete json.weightsManifest;
    rewrite(dir, json);
    const error = await failure(dir);
    expect(error.field).toBe(`${join(dir, "model.json")}: weightsManifest`);
  });

  it("a parameter of the wrong shape", async () => {
    const { dir, json } = await exported();
    const manifest = json.weightsManifest as { weights: { shape: number[] }[] }[];
    manifest[0]!.weights[0]!.shape = [40, 1];
    rewrite(dir, json);
    const error = await failure(dir);
    expect(error.field).toMatch(/model\.json: weightsManifest weights\[0\] "layer0\/weight"$/);
    expect(error.message).toContain("expected shape [1,40]");
  });

  it("a missing shard", async () => {
    const { dir } = await exported();
    rmSync(join(dir, "group1-shard1of1.bin"));
    const error = await failure(dir);
    expect(error.field).toBe(join(dir, "group1-shard1of1.bin"));
    expect(error.message).toContain("file not found");
  });

  it("a truncated shard", async () => {
    const { dir } = await exported();
    const path = join(dir, "group1-shard1of1.bin");
    writeFileSync(path, readFileSync(path).subarray(0, 100));
    const error = await failure(dir);
    expect(error.field).toBe(path);
    expect(error.message).toBe(`${path}: expected ${(40 + 40 + 40 * 40 + 40 + 40 + 1) * 4} bytes (what the manifest implies), got 100`);
  });

  it("another format version", async () => {
    const { dir, json } = await exported();
    (json.concord as Record<string, unknown>).formatVersion = 2;
    rewrite(dir, json);
    const error = await failure(dir);
    expect(error.field).toBe(`${join(dir, "model.json")}: concord.formatVersion`);
  });

  it("an unknown model name lists the known ones; a custom factory makes it load", async () => {
    const { dir, json } = await exported();
    (json.concord as { model: { name: string } }).model.name = "my-mlp";
    rewrite(dir, json);
    const error = await failure(dir);
    expect(error.field).toBe(`${join(dir, "model.json")}: concord.model.name`);
    expect(error.message).toContain('"mlp", "conv-net"');
    const loaded = await loadMetaModel(dir, { models: { "my-mlp": (options) => mlp(options as unknown as MlpOptions) } });
    expect(Object.keys(loaded.params)).toHaveLength(6);
    tf.dispose(Object.values(loaded.params));
  });

  it("not JSON, and not a Concord export", async () => {
    const { dir } = await exported();
    writeFileSync(join(dir, "model.json"), "{ nope");
    expect((await failure(dir)).field).toBe(join(dir, "model.json"));
    writeFileSync(join(dir, "model.json"), JSON.stringify({ modelTopology: {}, weightsManifest: [] }));
    expect((await failure(dir)).field).toBe(`${join(dir, "model.json")}: format`);
  });

  it("folderReader refuses shard paths leaving the folder", async () => {
    const { dir } = await exported();
    await expect(folderReader(dir).readShard("../x.bin", 1024)).rejects.toMatchObject({ name: "ConcordError", field: "../x.bin" });
  });
});
