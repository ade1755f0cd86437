// Issue 20, item 11: the addon's size checks must hold for hostile sizes and offsets. Each case
// calls the addon in a child Node process, so a crash (the failure these checks prevent) fails the
// test instead of killing the test runner; the child must end normally with the addon's own error.
// Every size below is a safe JavaScript integer whose byte count overflows 64 bits, or an offset
// that only a later batch member puts outside the buffer: before checked arithmetic they passed
// the bounds checks and the addon wrote or read far outside the buffer.
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const ADDON = fileURLToPath(new URL("../build/concord_native.node", import.meta.url));

interface Outcome {
  readonly status: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly reply: { threw: boolean; code?: string; message?: string } | undefined;
  readonly stderr: string;
}

/** Calls addon[name](new ArrayBuffer(bufferBytes), ...args) in a child process; reports how it ended. */
function callInChild(name: string, bufferBytes: number, args: readonly (number | boolean)[]): Outcome {
  const program = `
    const addon = require(${JSON.stringify(ADDON)});
    addon.setThreads(1);
    let reply;
    try {
      addon[${JSON.stringify(name)}](new ArrayBuffer(${bufferBytes}), ...${JSON.stringify(args)});
      reply = { threw: false };
    } catch (error) {
      reply = { threw: true, code: error.code, message: error.message };
    }
    process.stdout.write(JSON.stringify(reply));`;
  const child = spawnSync(process.execPath, ["-e", program], { encoding: "utf8", timeout: 60_000 });
  let reply: Outcome["reply"];
  try {
    reply = JSON.parse(child.stdout) as Outcome["reply"];
  } catch {
    reply = undefined;
  }
  return { status: child.status, signal: child.signal, reply, stderr: child.stderr.slice(0, 500) };
}

/** The call ended with a clean JavaScript error from the addon whose message matches `message`. */
function expectCleanError(outcome: Outcome, message: RegExp): void {
  expect({ status: outcome.status, signal: outcome.signal, stderr: outcome.stderr }).toEqual({ status: 0, signal: null, stderr: "" });
  expect(outcome.reply).toMatchObject({ threw: true, code: "ERR_CONCORD_NATIVE" });
  expect(outcome.reply?.message).toMatch(message);
}

const TWO_31 = 2 ** 31;
const TWO_52 = 2 ** 52;

describe("the addon refuses hostile sizes and offsets with a JavaScript error (no crash, no out-of-bounds access)", () => {
  it("im2col: an output whose byte count overflows 64 bits (oh · ow · 4 = 2⁶⁴)", () => {
    // x, out, n, height, width, c, oh, ow, kh, kw, top, left
    expectCleanError(callInChild("im2col", 64, [0, 0, 1, 1, 1, 1, TWO_31, TWO_31, 1, 1, 0, 0]), /im2col: .*outside the buffer|im2col: .*too large/);
  });

  it("im2col: an input whose byte count overflows 64 bits (height · width · 4 = 2⁶⁴, read past the buffer)", () => {
    expectCleanError(callInChild("im2col", 64, [0, 0, 1, TWO_31, TWO_31, 1, TWO_31, TWO_31, 1, 1, 0, 0]), /im2col: /);
  });

  it("col2im3x3: patches whose byte count overflows 64 bits (height · width · 9 · 4 > 2⁶⁴), and an output past the buffer", () => {
    // patches, out, n, height, width, c
    expectCleanError(callInChild("col2im3x3", 64, [0, 0, 1, TWO_31, TWO_31, 1]), /col2im3x3: .*outside the buffer/);
    expectCleanError(callInChild("col2im3x3", 1024, [0, 1000, 1, 2, 2, 4]), /col2im3x3: .*outside the buffer/);
  });

  it("sgemm: a batch member other than the last lies outside the buffer (the last one's offset wraps to 0)", () => {
    // batch 4097, 1×1·1×1; A's stride 2⁵² puts member 1 at byte 2⁵², member 4096 at 2⁶⁴ ≡ 0.
    // buffer, batch, m, n, k, transA, transB, a, strideA, b, strideB, c, strideC
    expectCleanError(callInChild("sgemm", 1 << 16, [4097, 1, 1, 1, false, false, 0, TWO_52, 0, 0, 16, 4]), /sgemm: .*outside the buffer/);
  });

  it("sgemm: an output batch member wraps the same way", () => {
    expectCleanError(callInChild("sgemm", 1 << 16, [4097, 1, 1, 1, false, false, 0, 0, 0, 0, 16, TWO_52]), /sgemm: .*outside the buffer/);
  });

  it("sgemm: batch members that write over each other (output stride smaller than one matrix)", () => {
    expectCleanError(callInChild("sgemm", 1 << 16, [4, 8, 8, 8, false, false, 0, 0, 0, 0, 1024, 0]), /sgemm: .*overlap/);
  });

  it("maxPoolRoute: input and pooled byte counts that overflow 64 bits (n · height · 4 = n · oh · 4 = 2⁶⁴)", () => {
    // x, upstream, out, n, height, width, c, oh, ow, kh, kw, top, left, gather
    for (const gather of [0, 1]) {
      expectCleanError(callInChild("maxPoolRoute", 64, [0, 0, 0, TWO_31, TWO_31, 1, 1, TWO_31, 1, 1, 1, 0, 0, gather]), /maxPoolRoute: /);
    }
  });

  it("batchNorm and batchNormGrad: rows · channels · 4 = 2⁶⁶ (wraps to 0 bytes)", () => {
    // x, scale, offset, out, rows, channels, epsilon, relu
    expectCleanError(callInChild("batchNorm", 1 << 16, [0, 0, 0, 0, TWO_52, 4096, 1e-3, 1]), /batchNorm: /);
    // x, scale, offset, dy, dx, dScale, dOffset, rows, channels, epsilon, relu
    expectCleanError(callInChild("batchNormGrad", 1 << 16, [0, 0, 0, 0, 0, 0, 0, TWO_52, 4096, 1e-3, 1]), /batchNormGrad: /);
  });

  it("offsets and sizes that are not safe integers (fractions, beyond 2⁵³) are refused, not truncated", () => {
    expectCleanError(callInChild("im2col", 64, [0.5, 0, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0]), /integer/);
    expectCleanError(callInChild("sgemm", 64, [1, 1, 1, 1, false, false, 2 ** 64, 0, 0, 0, 16, 0]), /integer/);
  });

  it("a well-formed call still runs in the child (the harness itself is sound)", () => {
    const outcome = callInChild("sgemm", 64, [1, 2, 2, 2, false, false, 0, 0, 16, 0, 32, 0]);
    expect(outcome).toMatchObject({ status: 0, signal: null, reply: { threw: false } });
  });
});
