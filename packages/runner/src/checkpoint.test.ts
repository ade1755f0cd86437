import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as tf from "@tensorflow/tfjs-core";
import "@tensorflow/tfjs-backend-cpu";
import { ConcordError, createRng } from "@concord/core";
import { beforeAll, describe, expect, it } from "vitest";
import { removeStaleTempFiles } from "./atomic-file.js";
import { type CheckpointData, checkpointBackend, disposeCheckpoint, encodeWeightsSync, loadCheckpoint, saveCheckpoint } from "./checkpoint.js";

function sample(): CheckpointData {
  const rng = createRng(5);
  return {
    iteration: 17,
    params: { "layer0/weight": tf.tensor2d(rng.normalArray(6), [2, 3]), "layer0/bias": tf.tensor1d(rng.normalArray(3)) },
    optimizerState: {
      name: "adam",
      step: 17,
      slots: { "m/layer0/weight": tf.tensor2d(rng.normalArray(6), [2, 3]), "v/layer0/bias": tf.tensor1d([1e-30, 3, Number.MIN_VALUE]) },
    },
    taskRngState: [1, 2, 3, 4294967295],
    config: { seed: 1, nested: { a: [1, 2] } },
    metricsOffset: 1234,
    fallbacks: 2,
    backend: "cpu",
    elapsedSeconds: 1.5,
  };
}

const bytesOf = (t: tf.Tensor) => Buffer.from((t.dataSync() as Float32Array).buffer).toString("hex");

describe("checkpoints", () => {
  beforeAll(async () => {
    await tf.setBackend("cpu");
  });

  it("encodes exactly as tf.io.encodeWeights", async () => {
    const data = sample();
    const named = Object.entries(data.params).map(([name, tensor]) => ({ name, tensor }));
    const ours = encodeWeightsSync(named);
    const theirs = await tf.io.encodeWeights(named);
    expect(ours.specs).toEqual(theirs.specs);
    expect(ours.bytes.equals(Buffer.from(theirs.data))).toBe(true);
    disposeCheckpoint(data);
  });

  it("round-trips parameters, optimizer slots and metadata bit for bit, keeping key order", () => {
    const folder = mkdtempSync(join(tmpdir(), "concord-ckpt-"));
    const path = join(folder, "checkpoint.ckpt");
    const data = sample();
    saveCheckpoint(path, data);
    const loaded = loadCheckpoint(path);
    expect(Object.keys(loaded.params)).toEqual(Object.keys(data.params));
    for (const [name, tensor] of Object.entries(data.params)) expect(bytesOf(loaded.params[name]!)).toBe(bytesOf(tensor));
    for (const [name, tensor] of Object.entries(data.optimizerState.slots)) expect(bytesOf(loaded.optimizerState.slots[name]!)).toBe(bytesOf(tensor));
    expect(loaded).toMatchObject({
      iteration: 17,
      taskRngState: [1, 2, 3, 4294967295],
      config: data.config,
      metricsOffset: 1234,
      fallbacks: 2,
      backend: "cpu",
    });
    expect(loaded.optimizerState).toMatchObject({ name: "adam", step: 17 });
    expect(readdirSync(folder)).toEqual(["checkpoint.ckpt"]);
    disposeCheckpoint(data);
    disposeCheckpoint(loaded);
  });

  it('reads a native run\'s checkpoint from before engines were named (recorded "wasm", config "native") as native; a wasm run\'s stays wasm', () => {
    const folder = mkdtempSync(join(tmpdir(), "concord-ckpt-"));
    for (const [configured, recorded, expected] of [
      ["native", "wasm", "native"],
      ["auto", "wasm", "wasm"],
      ["wasm", "wasm", "wasm"],
      ["native", "native", "native"],
    ] as const) {
      const path = join(folder, `${configured}-${recorded}.ckpt`);
      const data = { ...sample(), config: { seed: 1, backend: configured }, backend: recorded };
      saveCheckpoint(path, data);
      const loaded = loadCheckpoint(path);
      expect([configured, recorded, loaded.backend, checkpointBackend(path)]).toEqual([configured, recorded, expected, expected]);
      disposeCheckpoint(data);
      disposeCheckpoint(loaded);
    }
  });

  it("detects a truncated or corrupted file and names it", () => {
    const folder = mkdtempSync(join(tmpdir(), "concord-ckpt-"));
    const path = join(folder, "checkpoint.ckpt");
    const data = sample();
    saveCheckpoint(path, data);
    disposeCheckpoint(data);
    const good = readFileSync(path);
    const cases: [string, Buffer][] = [
      ["truncated", good.subarray(0, good.length - 7)],
      ["one flipped weight bit", Buffer.from(good.map((byte, i) => (i === good.length - 3 ? byte ^ 1 : byte)))],
      ["empty", Buffer.alloc(0)],
      ["not a checkpoint", Buffer.from('{"hello":1}\n')],
    ];
    for (const [title, bytes] of cases) {
      writeFileSync(path, bytes);
      let error: unknown;
      try {
        loadCheckpoint(path);
      } catch (caught) {
        error = caught;
      }
      expect(error, title).toBeInstanceOf(ConcordError);
      expect((error as Error).message, title).toMatch(
        new RegExp(`^${path.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&")}: expected a Concord checkpoint, but the file is truncated or corrupted`),
      );
    }
    expect(() => loadCheckpoint(join(folder, "missing.ckpt"))).toThrow(/missing\.ckpt: checkpoint file not found/);
  });

  it("removes temp files a killed writer left behind, never the checkpoint", () => {
    const folder = mkdtempSync(join(tmpdir(), "concord-ckpt-"));
    const path = join(folder, "checkpoint.ckpt");
    writeFileSync(path, "real");
    writeFileSync(join(folder, ".checkpoint.ckpt.tmp-12345"), "half");
    expect(removeStaleTempFiles(path)).toEqual([".checkpoint.ckpt.tmp-12345"]);
    expect(readdirSync(folder)).toEqual(["checkpoint.ckpt"]);
  });
});
