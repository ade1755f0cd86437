import { execFileSync } from "node:child_process";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";
import { useBackend } from "@concord/backend";
import { beforeAll, describe, expect, it } from "vitest";
import { createTaskPool } from "./task-pool.js";

const setup = new URL("./testing/kernel-probe-setup.mjs", import.meta.url);

beforeAll(() => {
  // Worker threads run plain Node on the compiled packages.
  const tsc = createRequire(import.meta.url).resolve("typescript/bin/tsc");
  execFileSync(process.execPath, [tsc, "-b"], { cwd: fileURLToPath(new URL("../..", import.meta.url)), stdio: "pipe" });
}, 120_000);

describe("TaskPool workers set up TensorFlow.js as their creator did", () => {
  // A worker that installed a kernel its creator left out would round differently (and vice versa).
  it.each([
    [[], true],
    [["cross-entropy"], false],
  ] as const)("with useBackend's skipKernels %j the worker's cross-entropy kernel is registered: %s", async (skipKernels, expected) => {
    await useBackend("cpu", { skipKernels });
    const pool = await createTaskPool({ setup, setupOptions: { expectCrossEntropyKernel: expected }, threads: 2 });
    await pool.close();
  });

  it("a worker set up differently fails to start, naming the difference", async () => {
    await useBackend("cpu", { skipKernels: ["cross-entropy"] });
    await expect(createTaskPool({ setup, setupOptions: { expectCrossEntropyKernel: true }, threads: 2 })).rejects.toThrow(
      /cross-entropy kernel registered = false, expected true/,
    );
  });
});
