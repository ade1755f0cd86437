import { Worker } from "node:worker_threads";
import { type ExperimentConfigInput, parseConfig } from "@concord/runner";
import { tinyConfig } from "@concord/runner/testing";
import { afterAll, describe, expect, it } from "vitest";
import type { ComputeReply, ComputeRequest } from "./compute-messages.js";
import { configPayload, TASK_JOB_VERSION } from "./protocol.js";

// The built compute thread, as `concord worker` starts it (the packages are built before tests).
const worker = new Worker(new URL("../../dist/tasks/compute-thread.js", import.meta.url), { workerData: { pluginFiles: [] }, execArgv: [] });
afterAll(() => worker.terminate());

let nextId = 0;
/** Sends one chunk with junk θ and tasks: enough to reach the setup checks, which come first. */
function compute(overrides: Partial<ExperimentConfigInput>): Promise<ComputeReply> {
  const id = nextId++;
  const payload = {
    version: TASK_JOB_VERSION,
    config: configPayload(parseConfig(tinyConfig(overrides))),
    backend: "cpu",
    start: 0,
    end: 1,
    taskCount: 1,
  } as unknown as ComputeRequest["payload"];
  const request: ComputeRequest = { id, payload, theta: new Uint8Array(8), tasks: new Uint8Array(8) };
  return new Promise((resolve) => {
    const onMessage = (reply: ComputeReply) => {
      if (reply.id !== id) return;
      worker.off("message", onMessage);
      resolve(reply);
    };
    worker.on("message", onMessage);
    worker.postMessage(request);
  });
}

describe("a Redis worker's compute thread keeps the kernels it was set up with", () => {
  it("refuses a chunk whose config leaves out other kernels than its first chunk's, naming the field", async () => {
    const first = await compute({ skipKernels: [] });
    // Junk θ: refused for its bytes, after the thread set up TensorFlow.js with no kernel left out.
    expect(first.ok).toBe(false);
    expect(first.ok === false && first.message).not.toContain("skipKernels");
    const other = await compute({ skipKernels: ["cross-entropy"] });
    expect(other).toMatchObject({ ok: false, badInput: true });
    expect(other.ok === false && other.message).toBe(
      'job.config.skipKernels: this worker computes with skipKernels [], the coordinator with ["cross-entropy"]',
    );
  });
});
