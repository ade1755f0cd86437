import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as tf from "@tensorflow/tfjs-core";
import { useBackend } from "@concord/backend";
import { beforeAll, describe, expect, it } from "vitest";
import { buildFingerprint, fingerprintOf } from "./build-fingerprint.js";
import { checkpointBuild, loadCheckpoint, saveCheckpoint } from "./checkpoint.js";

function fakePackage(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), "concord-fingerprint-"));
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(join(dir, "dist", path, ".."), { recursive: true });
    writeFileSync(join(dir, "dist", path), text);
  }
  return dir;
}

describe("build fingerprint", () => {
  beforeAll(() => useBackend("cpu"));

  const files = {
    "index.js": "export const a = 1;",
    "tasks/run.js": "export const b = 2;",
    "index.d.ts": "export declare const a: 1;",
    "index.js.map": "{}",
    "x.test.js": "test()",
  };

  it("changes with any byte of a shipped, running file and with a version; not with types, maps or tests", () => {
    const base = fingerprintOf([{ name: "@concord/x", version: "1.0.0", dir: fakePackage(files) }]);
    expect(base).toMatch(/^[0-9a-f]{16}$/);
    expect(fingerprintOf([{ name: "@concord/x", version: "1.0.0", dir: fakePackage(files) }])).toBe(base);
    expect(fingerprintOf([{ name: "@concord/x", version: "1.0.0", dir: fakePackage({ ...files, "tasks/run.js": "export const b = 3;" }) }])).not.toBe(base);
    expect(fingerprintOf([{ name: "@concord/x", version: "1.0.1", dir: fakePackage(files) }])).not.toBe(base);
    expect(fingerprintOf([{ name: "@concord/x", version: "1.0.0", dir: fakePackage({ ...files, "extra.js": "" }) }])).not.toBe(base);
    const untouched = { ...files, "index.d.ts": "changed", "index.js.map": "changed", "x.test.js": "changed", ".tsbuildinfo": "x" };
    expect(fingerprintOf([{ name: "@concord/x", version: "1.0.0", dir: fakePackage(untouched) }])).toBe(base);
    expect(fingerprintOf([{ name: "@tensorflow/tfjs-core", version: "4.22.0" }])).not.toBe(
      fingerprintOf([{ name: "@tensorflow/tfjs-core", version: "4.21.0" }]),
    );
  });

  it("is this process's, stable, and written into every checkpoint", () => {
    expect(buildFingerprint()).toMatch(/^[0-9a-f]{16}$/);
    expect(buildFingerprint()).toBe(buildFingerprint());
    const path = join(mkdtempSync(join(tmpdir(), "concord-fingerprint-ckpt-")), "checkpoint.ckpt");
    const params = { w: tf.tensor([1, 2]) };
    saveCheckpoint(path, {
      iteration: 1,
      params,
      optimizerState: { name: "sgd", step: 1, slots: {} },
      taskRngState: [1, 2, 3, 4],
      config: {},
      metricsOffset: 0,
      fallbacks: 0,
      backend: "cpu",
      elapsedSeconds: 0,
    });
    tf.dispose(Object.values(params));
    expect(checkpointBuild(path)).toBe(buildFingerprint());
    const loaded = loadCheckpoint(path);
    expect(loaded.build).toBe(buildFingerprint());
    tf.dispose(Object.values(loaded.params));
  });
});
