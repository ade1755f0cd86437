// Shards named by an untrusted model.json are fetched from its own origin only, once each, no larger
// than the manifest implies and within a time limit (issue 20, item 12).
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import * as tf from "@tensorflow/tfjs-core";
import { ConcordError, createRng } from "@concord/core";
import { type MlpOptions, mlp } from "@concord/models";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { loadMetaModel, type MetaModelLoadOptions, metaModelArtifacts, type MetaModelSpec } from "./index.js";

const spec: MetaModelSpec = {
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
const WEIGHT_BYTES = (4 + 4 + 4 + 1) * 4;

type Handler = (request: IncomingMessage, response: ServerResponse) => void;

/** A loopback server whose routes the tests set, recording every request path. */
class TestServer {
  readonly routes = new Map<string, Handler>();
  readonly requests: string[] = [];
  readonly #sockets = new Set<import("node:net").Socket>();
  #server!: Server;
  origin = "";

  async start(): Promise<void> {
    this.#server = createServer((request, response) => {
      this.requests.push(request.url ?? "");
      const handler = this.routes.get(request.url ?? "");
      if (handler) handler(request, response);
      else response.writeHead(404).end();
    });
    this.#server.on("connection", (socket) => {
      this.#sockets.add(socket);
      socket.on("close", () => this.#sockets.delete(socket));
    });
    await new Promise<void>((resolve) => this.#server.listen(0, "127.0.0.1", resolve));
    this.origin = `http://127.0.0.1:${(this.#server.address() as AddressInfo).port}`;
  }

  serve(path: string, body: Uint8Array | string): void {
    this.routes.set(path, (_request, response) => response.writeHead(200).end(body));
  }

  async stop(): Promise<void> {
    for (const socket of this.#sockets) socket.destroy();
    await new Promise((resolve) => this.#server.close(resolve));
  }
}

const home = new TestServer();
const elsewhere = new TestServer();
let shard: Uint8Array;
let modelJson: Record<string, unknown>;

beforeAll(async () => {
  await tf.setBackend("cpu");
  await home.start();
  await elsewhere.start();
  const params = mlp(spec.model.options as unknown as MlpOptions).init(createRng(2));
  const artifacts = metaModelArtifacts(params, spec);
  tf.dispose(Object.values(params));
  shard = artifacts.shards[0]!.data;
  modelJson = artifacts.modelJson as unknown as Record<string, unknown>;
});
afterAll(async () => {
  await home.stop();
  await elsewhere.stop();
});
beforeEach(() => {
  for (const server of [home, elsewhere]) {
    server.routes.clear();
    server.requests.length = 0;
  }
});

/** Serves model.json at /m/model.json whose only group has `paths`, and the real shard at /m/w.bin and elsewhere. */
function serveExport(paths: string[]): string {
  const json = { ...modelJson, weightsManifest: [{ ...(modelJson.weightsManifest as object[])[0], paths }] };
  home.serve("/m/model.json", JSON.stringify(json));
  home.serve("/m/w.bin", shard);
  home.serve("/w.bin", shard);
  elsewhere.serve("/w.bin", shard);
  return `${home.origin}/m/model.json`;
}

async function refusal(url: string, options: MetaModelLoadOptions = {}): Promise<ConcordError> {
  const before = tf.memory().numTensors;
  const error = await loadMetaModel(url, options).then(
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

describe("shard URLs: same origin only", () => {
  it("relative paths resolve against model.json, and may leave its folder on the same origin", async () => {
    for (const paths of [["w.bin"], ["./w.bin"], ["../w.bin"], ["/w.bin"]]) {
      const url = serveExport(paths);
      const loaded = await loadMetaModel(url);
      expect(Object.keys(loaded.params), paths[0]).toHaveLength(4);
      tf.dispose(Object.values(loaded.params));
    }
  });

  it("an absolute URL on the same origin loads", async () => {
    const loaded = await loadMetaModel(serveExport([`${home.origin}/m/w.bin`]));
    tf.dispose(Object.values(loaded.params));
  });

  it("another origin, a protocol-relative URL, a backslash variant of it and a data: URL are refused before any shard is fetched", async () => {
    const otherHost = elsewhere.origin.replace("http://", "");
    for (const path of [
      `${elsewhere.origin}/w.bin`,
      `//${otherHost}/w.bin`,
      `\\\\${otherHost}\\w.bin`,
      `//${home.origin.replace("http://", "")}/w.bin`,
      "data:application/octet-stream;base64,AAAA",
      "https://127.0.0.1/w.bin",
    ]) {
      const url = serveExport([path]);
      const error = await refusal(url);
      expect(error.field, path).toBe(`${url}: weightsManifest[0].paths[0]`);
      expect(error.message, path).toMatch(/same origin|protocol-relative/);
      expect(
        home.requests.filter((request) => request.endsWith(".bin")),
        path,
      ).toEqual([]);
      expect(elsewhere.requests, path).toEqual([]);
    }
  });

  it("a path given twice (or spelled twice) is refused before any shard is fetched", async () => {
    for (const paths of [
      ["w.bin", "w.bin"],
      ["w.bin", "./w.bin"],
      ["w.bin", `${home.origin}/m/w.bin`],
    ]) {
      const url = serveExport(paths);
      const error = await refusal(url);
      expect(error.field).toBe(`${url}: weightsManifest[0].paths[1]`);
      expect(error.message).toContain("same shard as weightsManifest[0].paths[0]");
      expect(home.requests).toEqual(["/m/model.json"]);
      home.requests.length = 0;
    }
  });
});

describe("shard sizes and time", () => {
  it("a Content-Length above what the manifest implies is refused without reading the body", async () => {
    const url = serveExport(["big.bin"]);
    home.routes.set("/m/big.bin", (_request, response) => {
      response.writeHead(200, { "content-length": String(1 << 30) });
      // A first chunk only: the refusal must come from the header, not from reading the body.
      response.write(new Uint8Array(65536));
    });
    const error = await refusal(url);
    expect(error.field).toBe(`${home.origin}/m/big.bin`);
    expect(error.message).toContain(`expected at most ${WEIGHT_BYTES} bytes (what the manifest implies), the server announces ${1 << 30}`);
  });

  it("an endless body without Content-Length is cut off just past what the manifest implies", async () => {
    const url = serveExport(["endless.bin"]);
    let stopped = false;
    home.routes.set("/m/endless.bin", (_request, response) => {
      response.writeHead(200);
      const chunk = new Uint8Array(16384);
      const pump = () => {
        while (!stopped && response.write(chunk));
        if (!stopped) response.once("drain", pump);
      };
      response.on("close", () => (stopped = true));
      pump();
    });
    const error = await refusal(url);
    stopped = true;
    expect(error.field).toBe(`${home.origin}/m/endless.bin`);
    expect(error.message).toContain(`expected at most ${WEIGHT_BYTES} bytes (what the manifest implies), got more`);
  });

  it("a short shard is refused naming the shard", async () => {
    const url = serveExport(["short.bin"]);
    home.serve("/m/short.bin", shard.subarray(0, 8));
    const error = await refusal(url);
    expect(error.field).toBe(`${home.origin}/m/short.bin`);
    expect(error.message).toBe(`${home.origin}/m/short.bin: expected ${WEIGHT_BYTES} bytes (what the manifest implies), got 8`);
  });

  it("a server that never answers times out (timeoutMs), naming the shard", async () => {
    const url = serveExport(["slow.bin"]);
    home.routes.set("/m/slow.bin", () => {});
    const error = await refusal(url, { timeoutMs: 300 });
    expect(error.field).toBe(`${home.origin}/m/slow.bin`);
    expect(error.message).toContain("timed out after 300 ms (timeoutMs)");
  });

  it("a body that stalls halfway times out too", async () => {
    const url = serveExport(["stall.bin"]);
    home.routes.set("/m/stall.bin", (_request, response) => {
      response.writeHead(200, { "content-length": String(WEIGHT_BYTES) });
      response.write(shard.subarray(0, 8));
    });
    const error = await refusal(url, { timeoutMs: 300 });
    expect(error.field).toBe(`${home.origin}/m/stall.bin`);
    expect(error.message).toContain("timed out");
  });

  it("model.json itself is capped (maxModelJsonBytes) and timed", async () => {
    home.serve("/big/model.json", JSON.stringify({ padding: "x".repeat(10_000) }));
    let error = await refusal(`${home.origin}/big/model.json`, { maxModelJsonBytes: 1000 });
    expect(error.field).toBe(`${home.origin}/big/model.json`);
    expect(error.message).toContain("maxModelJsonBytes");
    home.routes.set("/never/model.json", () => {});
    error = await refusal(`${home.origin}/never/model.json`, { timeoutMs: 200 });
    expect(error.message).toContain("timed out after 200 ms");
  });

  it("a caller's AbortSignal stops the load with a ConcordError", async () => {
    const url = serveExport(["slow.bin"]);
    home.routes.set("/m/slow.bin", () => {});
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 100);
    const error = await refusal(url, { signal: controller.signal });
    expect(error.field).toBe(`${home.origin}/m/slow.bin`);
    expect(error.message).toContain("aborted");
  });

  it("timeoutMs must be a positive integer", async () => {
    await expect(loadMetaModel(`${home.origin}/m/model.json`, { timeoutMs: 0 })).rejects.toMatchObject({ name: "ConcordError", field: "timeoutMs" });
  });
});

describe("multi-shard exports: every shard's size is what the manifest implies", () => {
  it("shards of a tf.io-style cut load; a cut that no shard size explains is refused", async () => {
    // 52 bytes in shards of 16: 16, 16, 16, 4.
    const params = mlp(spec.model.options as unknown as MlpOptions).init(createRng(3));
    const artifacts = metaModelArtifacts(params, spec, { shardBytes: 16 });
    tf.dispose(Object.values(params));
    expect(artifacts.shards.map((s) => s.data.byteLength)).toEqual([16, 16, 16, 4]);
    home.serve("/multi/model.json", JSON.stringify(artifacts.modelJson));
    for (const s of artifacts.shards) home.serve(`/multi/${s.path}`, s.data);
    const loaded = await loadMetaModel(`${home.origin}/multi/`);
    tf.dispose(Object.values(loaded.params));

    // The same 52 bytes cut 16, 20, 12, 4: the total is right but the middle shards are not.
    const bytes = new Uint8Array(artifacts.shards.flatMap((s) => [...s.data]));
    const cuts = [0, 16, 36, 48, 52];
    artifacts.shards.forEach((s, i) => home.serve(`/multi/${s.path}`, bytes.subarray(cuts[i], cuts[i + 1])));
    const error = await refusal(`${home.origin}/multi/`);
    expect(error.field).toBe(`${home.origin}/multi/${artifacts.shards[1]!.path}`);
    expect(error.message).toMatch(/expected (at most )?16 bytes \(what the manifest implies\)/);
  });
});
