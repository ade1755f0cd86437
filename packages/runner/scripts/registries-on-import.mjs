// Plain-Node check (no vitest, no bundler) that importing Concord's BUILT entry points leaves
// TensorFlow.js exactly as it was, and that only useBackend() changes it. Imports each entry point
// given on the command line in turn, comparing tfjs-core's kernel and gradient registries (kept in
// globalThis._tfGlobals), its registered backend factories and Engine.clone before and after.
// Prints one JSON line: { imports: [{ entry, error?, changed: [...] }], setup: { changed: [...] } }.
import * as tf from "@tensorflow/tfjs-core";

function snapshot() {
  const globals = globalThis._tfGlobals;
  const engine = tf.engine();
  return {
    kernels: new Map(globals.get("kernelRegistry")),
    gradients: new Map(globals.get("gradRegistry")),
    backends: new Map(Object.entries(engine.registryFactory)),
    clone: engine.clone,
    prototypeClone: Object.getPrototypeOf(engine).clone,
  };
}

/** "kernel wasm_Tile", "gradient Tanh", "backend cpu", "Engine.clone": what differs between two snapshots. */
function changes(before, after) {
  const out = [];
  for (const [kind, key] of [["kernel", "kernels"], ["gradient", "gradients"], ["backend", "backends"]]) {
    for (const name of new Set([...before[key].keys(), ...after[key].keys()])) {
      if (before[key].get(name) !== after[key].get(name)) out.push(`${kind} ${name}`);
    }
  }
  if (before.clone !== after.clone) out.push("Engine.clone");
  if (before.prototypeClone !== after.prototypeClone) out.push("Engine.prototype.clone");
  return out.sort();
}

const imports = [];
for (const entry of process.argv.slice(2)) {
  const before = snapshot();
  try {
    await import(entry);
    imports.push({ entry, changed: changes(before, snapshot()) });
  } catch (error) {
    imports.push({ entry, error: String(error?.message ?? error).split("\n")[0], changed: changes(before, snapshot()) });
  }
}
const before = snapshot();
const { useBackend } = await import("@concord/backend");
const backend = await useBackend("cpu");
console.log(JSON.stringify({ imports, setup: { backend, changed: changes(before, snapshot()) } }));
