// The addon implements exactly @concord/backend's NativeKernels contract (the native functions the
// kernel folders declare in their contract.ts files) plus thread control: its C++ export list
// (NAPI_MODULE_INIT in native/concord_native.cc) and the contracts cannot drift apart unnoticed.
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";
import { NATIVE_KERNEL_MEMBERS, type NativeKernels } from "@concord/backend";
import { ConcordError } from "@concord/core";
import { describe, expect, it } from "vitest";
import { addonMembers, loadNativeKernels, THREAD_CONTROL } from "./load.js";

const ADDON = fileURLToPath(new URL("../build/concord_native.node", import.meta.url));

/** The addon's exports as a plain object (N-API defines its functions as non-enumerable properties). */
function addonExports(): Record<string, unknown> {
  const exports = createRequire(import.meta.url)(ADDON) as Record<string, unknown>;
  return Object.fromEntries(Object.getOwnPropertyNames(exports).map((name) => [name, exports[name]]));
}

/** "function" or "flag" for each export, as the contracts describe their members. */
function kinds(exports: Record<string, unknown>): Record<string, string> {
  return Object.fromEntries(
    Object.entries(exports).map(([name, value]) => [name, typeof value === "function" ? "function" : typeof value === "boolean" ? "flag" : typeof value]),
  );
}

describe("the addon and the kernels' native contracts", () => {
  it("the addon exports each contract member with its kind, thread control, and nothing else", () => {
    const exports = addonExports();
    const expected = { ...NATIVE_KERNEL_MEMBERS, ...Object.fromEntries(THREAD_CONTROL.map((name) => [name, "function"])) };
    expect(kinds(exports)).toEqual(expected);
  });

  it("loadNativeKernels() is a NativeKernels with every optional member present", () => {
    const kernels: NativeKernels = loadNativeKernels();
    for (const [name, kind] of Object.entries(NATIVE_KERNEL_MEMBERS)) {
      expect(typeof kernels[name as keyof NativeKernels], name).toBe(kind === "function" ? "function" : "boolean");
    }
    expect(kernels.description).toMatch(/\S/);
  });

  it("an addon without a contract member (built from another version's source) is a ConcordError naming it", () => {
    const exports = addonExports();
    const { addBias: _, ...withoutAddBias } = exports;
    const attempt = () => addonMembers(withoutAddBias, "/old/concord_native.node");
    expect(attempt).toThrow(ConcordError);
    expect(attempt).toThrow(
      /^backend: the native addon \/old\/concord_native\.node has no addBias function \(built from another version's source\?\): rebuild it/,
    );
    expect(() => addonMembers({ ...exports, batchNormMoments: 1 }, "/old/concord_native.node")).toThrow(/has no batchNormMoments flag/);
    expect(() => addonMembers({ ...exports, threads: undefined }, "/old/concord_native.node")).toThrow(/has no threads function/);
  });
});
