// installConcord() changes tfjs's registries and engine; uninstallConcord() puts back exactly what
// was there before (the very same objects), and the two can alternate.
import * as tf from "@tensorflow/tfjs-core";
import { ADAM_UPDATE_KERNEL, SGD_STEP_KERNEL } from "@concord/core";
import { afterAll, describe, expect, it } from "vitest";
import { concordGradientConfigs } from "./gradients/register.js";
import { installConcord, isConcordInstalled, uninstallConcord } from "./install.js";
import { INSTALL_ORDER } from "./kernels/index.js";

interface Snapshot {
  readonly kernels: Map<string, unknown>;
  readonly gradients: Map<string, unknown>;
  readonly ownClone: unknown;
  /** The engine's own gradients and endScope (Concord's lean versions shadow Engine.prototype's). */
  readonly ownGradients: unknown;
  readonly ownEndScope: unknown;
}

/** Copies of tfjs-core's two registries (kept in globalThis._tfGlobals) and the engine's own patched methods. */
function snapshot(): Snapshot {
  const globals = (globalThis as { _tfGlobals?: Map<string, Map<string, unknown>> })._tfGlobals!;
  const engine = tf.engine() as unknown as Record<string, unknown>;
  return {
    kernels: new Map(globals.get("kernelRegistry")!),
    gradients: new Map(globals.get("gradRegistry")!),
    ownClone: Object.hasOwn(engine, "clone") ? engine["clone"] : undefined,
    ownGradients: Object.hasOwn(engine, "gradients") ? engine["gradients"] : undefined,
    ownEndScope: Object.hasOwn(engine, "endScope") ? engine["endScope"] : undefined,
  };
}

function changedKeys(a: Map<string, unknown>, b: Map<string, unknown>): string[] {
  return [...new Set([...a.keys(), ...b.keys()])].filter((key) => a.get(key) !== b.get(key)).sort();
}

describe("installConcord / uninstallConcord", () => {
  afterAll(() => {
    installConcord();
  });

  it("uninstall restores tfjs's registries and Engine.clone exactly; install changes them again", () => {
    // vitest.setup.ts has installed Concord for cpu and wasm.
    expect(isConcordInstalled()).toBe(true);
    const installed = snapshot();
    uninstallConcord();
    const pristine = snapshot();
    expect(isConcordInstalled()).toBe(false);
    expect(pristine.ownClone).toBeUndefined(); // Engine.prototype.clone again
    expect(installed.ownClone).toBeTypeOf("function");
    expect(pristine.ownGradients).toBeUndefined();
    expect(installed.ownGradients).toBeTypeOf("function");
    expect(pristine.ownEndScope).toBeUndefined();
    expect(installed.ownEndScope).toBeTypeOf("function");
    expect(tf.getKernel(ADAM_UPDATE_KERNEL, "cpu")).toBeUndefined();
    expect(tf.getKernel(SGD_STEP_KERNEL, "wasm")).toBeUndefined();
    expect(tf.getKernel("ConcordMaxPoolRoute", "wasm")).toBeUndefined();
    // What install changes: every gradient of the set, Concord's own kernels, the fast kernels.
    const changedKernels = changedKeys(pristine.kernels, installed.kernels);
    expect(changedKeys(pristine.gradients, installed.gradients)).toEqual(concordGradientConfigs.map((c) => c.kernelName).sort());
    for (const key of [
      "cpu_ConcordAdamUpdate",
      "wasm_ConcordAdamUpdate",
      "cpu_ConcordMaxPoolRoute",
      "wasm_ConcordConv2DBackpropFilter",
      "wasm_BatchMatMul",
      "cpu_Tile",
      "wasm_Tile",
      "wasm_Identity",
      "wasm_Sum",
      "wasm_Add",
      "wasm_Multiply",
      "cpu_ConcordSgdStep",
      "wasm_ConcordSgdStep",
    ]) {
      expect(changedKernels).toContain(key);
    }

    const installation = installConcord();
    expect(isConcordInstalled()).toBe(true);
    expect(installation.fastKernels).toEqual(INSTALL_ORDER);
    const again = snapshot();
    expect(changedKeys(pristine.kernels, again.kernels)).toEqual(changedKernels);
    // Idempotent: a second call changes nothing.
    installConcord();
    const twice = snapshot();
    expect(changedKeys(again.kernels, twice.kernels)).toEqual([]);
    expect(changedKeys(again.gradients, twice.gradients)).toEqual([]);
    expect(twice.ownClone).toBe(again.ownClone);
    expect(twice.ownGradients).toBe(again.ownGradients);
    expect(twice.ownEndScope).toBe(again.ownEndScope);

    uninstallConcord();
    const restored = snapshot();
    expect(changedKeys(pristine.kernels, restored.kernels)).toEqual([]);
    expect(changedKeys(pristine.gradients, restored.gradients)).toEqual([]);
    expect(restored.ownClone).toBeUndefined();
    expect(restored.ownGradients).toBeUndefined();
    expect(restored.ownEndScope).toBeUndefined();
  });

  it("uninstall brings back a gradient registered before Concord's (tfjs's own, here a stand-in), install puts Concord's back", () => {
    uninstallConcord();
    const standIn = { kernelName: "Tanh", gradFunc: () => ({}) };
    const previous = tf.getGradient("Tanh");
    tf.registerGradient(standIn);
    installConcord();
    const concordTanh = tf.getGradient("Tanh");
    expect(concordTanh).toBe(concordGradientConfigs.find((c) => c.kernelName === "Tanh"));
    uninstallConcord();
    expect(tf.getGradient("Tanh")).toBe(standIn);
    if (previous) tf.registerGradient(previous);
    else tf.unregisterGradient("Tanh");
    installConcord();
    expect(tf.getGradient("Tanh")).toBe(concordTanh);
  });

  it("skipKernels leaves fast kernels out", () => {
    uninstallConcord();
    const pristine = snapshot();
    const { fastKernels } = installConcord({ skipKernels: ["tile", "lean-clone"] });
    expect(fastKernels).not.toContain("tile");
    expect(fastKernels).not.toContain("lean-clone");
    expect(tf.getKernel("Tile", "cpu")).toBe(pristine.kernels.get("cpu_Tile"));
    expect(snapshot().ownClone).toBeUndefined();
    uninstallConcord();
    installConcord();
  });
});
