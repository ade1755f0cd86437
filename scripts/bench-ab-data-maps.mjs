// An experiment that did not pay (issue 24, host time): tfjs keeps each tensor's data in WeakMaps
// keyed by dataId (the engine's tensorInfo, the backend's DataStorage), which cost V8 more per
// set/lookup than a Map. `node scripts/bench-ab-data-maps.mjs [workload] [backend] [execution] [rounds]`
// (after `pnpm build`) alternates blocks of 10 iterations with both WeakMaps (A) and with Maps in
// front of them (B: new entries in a Map, lookups falling back to the WeakMap; switching back moves
// the entries over), as scripts/bench-ab.mjs does (ab-alternation.mjs). `--json <file>` writes a record.
import { loadavg } from "node:os";
import * as tf from "@tensorflow/tfjs-core";
import { alternateAB, takeJsonOption, writeAbRecord } from "./ab-alternation.mjs";

const jsonOut = takeJsonOption();
const loadAtStart = loadavg();
const [workload = "sinusoid-maml2", backend = "wasm", execution = "batched", roundsArg = "30"] = process.argv.slice(2);
const rounds = Number(roundsArg);
process.argv[2] = JSON.stringify({ workload, backend, execution, iterations: 0, warmup: 0, profileOnly: true });
const { runIteration, lastIterationCpuMs } = await import("./bench-worker.mjs");

/** A Map in front of a WeakMap, with the methods tfjs calls (get, set, has, delete). */
class MapInFront {
  constructor(weak) {
    this.weak = weak;
    this.map = new Map();
  }
  get(key) {
    const value = this.map.get(key);
    return value !== undefined ? value : this.weak.get(key);
  }
  set(key, value) {
    this.map.set(key, value);
    return this;
  }
  has(key) {
    return this.map.has(key) || this.weak.has(key);
  }
  delete(key) {
    return this.map.delete(key) || this.weak.delete(key);
  }
  /** The WeakMap with every entry of the Map moved into it. */
  restore() {
    for (const [key, value] of this.map) this.weak.set(key, value);
    return this.weak;
  }
}

const engine = tf.engine();
const storage = tf.backend().dataIdMap;
function configure(label) {
  const useMaps = label === "B";
  if (useMaps !== storage.data instanceof MapInFront) storage.data = useMaps ? new MapInFront(storage.data) : storage.data.restore();
  const info = engine.state.tensorInfo;
  if (useMaps !== info instanceof MapInFront) engine.state.tensorInfo = useMaps ? new MapInFront(info) : info.restore();
}

const { A, B } = await alternateAB({ configure, runIteration, lastIterationCpuMs, rounds });
configure("A");
console.log(`${workload} ${backend} ${execution}: A (WeakMaps) CPU ${A.cpu} ms, ${A.kernels} kernels; B (Maps in front) CPU ${B.cpu} ms, ${B.kernels} kernels; numTensors ${tf.memory().numTensors}`);
if (jsonOut) {
  const setup = { script: "bench-ab-data-maps.mjs", workload, backend, execution, rounds, iterationsPerVariant: rounds * 10 };
  writeAbRecord(jsonOut, { loadAtStart, setup, A: { ...A, label: "tfjs's WeakMaps" }, B: { ...B, label: "Maps in front of them" } });
}
