// The split between engine patches and kernel replacements is by what each one changes: an engine
// patch replaces Engine methods and registers no kernel, a kernel replacement registers kernels and
// patches no Engine method. Checked by installing each one alone on a pristine tfjs.
import * as tf from "@tensorflow/tfjs-core";
import "@tensorflow/tfjs-backend-wasm";
import { afterAll, describe, expect, it } from "vitest";
import { registerConcordGradients } from "../gradients/register.js";
import { installConcord, uninstallConcord } from "../install.js";
import { FAST_KERNELS, INSTALL_ORDER, installFastKernels } from "../kernels/index.js";
import { nativeKernels } from "../kernels/native-kernels.js";
import { ENGINE_PATCHES } from "./index.js";

const ENGINE_METHODS = ["clone", "gradients", "endScope", "runKernel"] as const;
const BACKENDS = ["cpu", "wasm"];

function kernelRegistry(): Map<string, unknown> {
  const registry = new Map<string, unknown>();
  for (const backend of BACKENDS) for (const config of tf.getKernelsForBackend(backend)) registry.set(`${backend}_${config.kernelName}`, config);
  return registry;
}

function engineMethods(): unknown[] {
  const engine = tf.engine() as unknown as Record<string, unknown>;
  return ENGINE_METHODS.map((name) => (Object.hasOwn(engine, name) ? engine[name] : undefined));
}

/** Installs only `name` on a pristine tfjs (plus the gradient set's kernels, which some replacements wrap); returns what changed. */
function changesOf(name: (typeof INSTALL_ORDER)[number]): { kernels: string[]; engineMethods: string[] } {
  uninstallConcord();
  registerConcordGradients();
  const kernels = kernelRegistry();
  const methods = engineMethods();
  const installed = installFastKernels(INSTALL_ORDER.filter((other) => other !== name));
  expect(installed).toEqual([name]);
  const after = kernelRegistry();
  return {
    kernels: [...after.keys()].filter((key) => after.get(key) !== kernels.get(key)),
    engineMethods: ENGINE_METHODS.filter((_, i) => engineMethods()[i] !== methods[i]),
  };
}

describe("engine patches and kernel replacements", () => {
  const native = nativeKernels();
  afterAll(() => {
    uninstallConcord();
    installConcord({ native });
  });

  it("INSTALL_ORDER lists every name of both lists once, keeping each list's own order", () => {
    const kernels = Object.keys(FAST_KERNELS);
    const patches = Object.keys(ENGINE_PATCHES);
    expect([...INSTALL_ORDER].sort()).toEqual([...kernels, ...patches].sort());
    expect(INSTALL_ORDER.filter((name) => kernels.includes(name))).toEqual(kernels);
    expect(INSTALL_ORDER.filter((name) => patches.includes(name))).toEqual(patches);
  });

  it.each(Object.keys(ENGINE_PATCHES))("engine patch %s replaces an Engine method and registers no kernel", (name) => {
    const changes = changesOf(name as keyof typeof ENGINE_PATCHES);
    expect(changes.kernels).toEqual([]);
    expect(changes.engineMethods).toHaveLength(1);
  });

  it.each(Object.keys(FAST_KERNELS))("kernel replacement %s registers kernels and patches no Engine method", (name) => {
    const changes = changesOf(name as keyof typeof FAST_KERNELS);
    expect(changes.kernels.length).toBeGreaterThan(0);
    expect(changes.engineMethods).toEqual([]);
  });
});
