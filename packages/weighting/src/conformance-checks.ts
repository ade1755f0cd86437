import * as tf from "@tensorflow/tfjs-core";
import { ConcordError, checkWeights, createRng, tensorGrowth, type WeightingInput, type WeightingScheme, type WeightingState } from "@concord/core";

/** A scheme, or a factory that makes a fresh one (for schemes that keep state between calls). */
export type WeightingSchemeSource = WeightingScheme | (() => WeightingScheme);

export interface WeightingConformanceOptions {
  /** [N, P] shapes of the random `updates` matrices tried. Default [[1, 5], [2, 3], [4, 17], [9, 130]]. */
  readonly shapes?: readonly (readonly [number, number])[];
  /** Also require Σ_i w_i = 1 (uniform-like schemes). Default false. */
  readonly sumsToOne?: boolean;
  /** Also require Σ_i |w_i| = 1 (gradient agreement). Default false. */
  readonly sumAbsToOne?: boolean;
  /** Absolute tolerance of the sum checks. Default 1e-5. */
  readonly tolerance?: number;
  /** Seed of the random inputs. Default 1. */
  readonly seed?: number;
  /**
   * Give every input `groups`: random group ids in [0, groups), as a sampler that declares this
   * many groups would. For schemes that weight by group (trMaml). Default: no groups.
   */
  readonly groups?: number;
}

/** One contract check: `run` throws an Error that says what was wrong. */
export interface ConformanceCheck {
  readonly title: string;
  run(): void;
}

const DEFAULT_SHAPES: readonly (readonly [number, number])[] = [
  [1, 5],
  [2, 3],
  [4, 17],
  [9, 130],
];

/**
 * The contract every weighting scheme meets, as plain checks (no test framework):
 * `testWeightingScheme` registers each as a vitest test.
 */
export function weightingConformanceChecks(source: WeightingSchemeSource, options: WeightingConformanceOptions = {}): ConformanceCheck[] {
  const shapes = options.shapes ?? DEFAULT_SHAPES;
  const tolerance = options.tolerance ?? 1e-5;
  const seed = options.seed ?? 1;
  if (options.groups !== undefined && !(Number.isInteger(options.groups) && options.groups >= 1)) {
    throw new Error(`conformance option groups: expected an integer >= 1, got ${String(options.groups)}`);
  }
  const fresh = (): WeightingScheme => (typeof source === "function" ? source() : source);
  const random = (tasks: number, size: number, inputSeed: number) => randomInput(tasks, size, inputSeed, options.groups);

  const checks: ConformanceCheck[] = [
    {
      title: "has a non-empty string name",
      run() {
        const name: unknown = fresh().name;
        if (typeof name !== "string" || name.trim() === "") throw new Error(`expected a non-empty string name, got ${JSON.stringify(name)}`);
      },
    },
  ];

  shapes.forEach(([tasks, size], index) => {
    checks.push({
      title: `returns a finite float32 Tensor1D of length ${tasks} for random updates [${tasks}, ${size}]`,
      run() {
        const scheme = fresh();
        withInput(random(tasks, size, seed + index), (input) => {
          const values = weightsOf(scheme, input, tasks);
          checkSums(values, options, tolerance);
        });
      },
    });
  });

  checks.push(
    {
      title: "handles a single task (N = 1)",
      run() {
        const scheme = fresh();
        withInput(random(1, 7, seed), (input) => checkSums(weightsOf(scheme, input, 1), options, tolerance));
      },
    },
    {
      title: "handles all-zero updates without NaN",
      run() {
        const scheme = fresh();
        for (const tasks of [1, 3]) {
          withInput(zeroInput(tasks, 6, options.groups), (input) => checkSums(weightsOf(scheme, input, tasks), options, tolerance));
        }
      },
    },
    {
      title: "does not leak tensors (tf.memory().numTensors stays flat)",
      run() {
        const scheme = fresh();
        withInput(random(5, 11, seed), (input) => {
          const growth = tensorGrowth(() => tf.dispose(scheme.weights(input).weights), 5);
          if (growth !== 0) throw new Error(`numTensors grew by ${growth} over 5 calls (each call's weights were disposed)`);
        });
      },
    },
    {
      title: "does not mutate or dispose its inputs",
      run() {
        const scheme = fresh();
        withInput(random(4, 9, seed), (input) => {
          const updatesBefore = Array.from(input.updates.dataSync());
          const lossesBefore = Array.from(input.losses.dataSync());
          tf.dispose(scheme.weights(input).weights);
          if (input.updates.isDisposed || input.losses.isDisposed) throw new Error("the scheme disposed its input tensors");
          if (!sameBits(updatesBefore, input.updates.dataSync()) || !sameBits(lossesBefore, input.losses.dataSync())) {
            throw new Error("the scheme changed the values of its input tensors");
          }
        });
      },
    },
    {
      title: "is deterministic for equal inputs",
      run() {
        const first = withInput(random(6, 13, seed), (input) => weightsOf(fresh(), input, 6));
        const second = withInput(random(6, 13, seed), (input) => weightsOf(fresh(), input, 6));
        if (!sameBits(first, second)) throw new Error(`weights differ for equal inputs: [${first}] vs [${second}]`);
      },
    },
    {
      title: "returns weights that are constants for differentiation",
      run() {
        const scheme = fresh();
        withInput(random(3, 4, seed), (input) => {
          let gradient: number[];
          try {
            gradient = tf.tidy(() => {
              const grad = tf.grad((updates: tf.Tensor) => tf.sum(scheme.weights({ ...input, updates: updates as tf.Tensor2D }).weights))(input.updates);
              return Array.from(grad.dataSync());
            });
          } catch (error) {
            // tfjs throws this when y does not depend on x at all: the weights are constants.
            if (error instanceof Error && error.message.startsWith("Cannot compute gradient of y=f(x)")) return;
            throw new Error(`differentiating the weights failed, so they are on the tape: ${String(error)}`);
          }
          if (gradient.some((value) => value !== 0)) throw new Error("the weights have a non-zero gradient with respect to the updates");
        });
      },
    },
  );
  checks.push(...statefulChecks(source, random));
  return checks;
}

/**
 * The checks for a scheme with getState/setState (saved in checkpoints): both or neither, given
 * as a factory, a JSON-safe copy as state, a bit-identical continuation after a JSON round trip,
 * and a refused foreign state that leaves the scheme as it was.
 */
function statefulChecks(source: WeightingSchemeSource, random: (tasks: number, size: number, seed: number) => WeightingInput): ConformanceCheck[] {
  const probe = typeof source === "function" ? source() : source;
  const hasGet = typeof probe.getState === "function";
  const hasSet = typeof probe.setState === "function";
  if (!hasGet && !hasSet) return [];
  const both: ConformanceCheck = {
    title: "a stateful scheme has both getState and setState",
    run() {
      if (!(hasGet && hasSet)) throw new Error(`the scheme has ${hasGet ? "getState" : "setState"} but not ${hasGet ? "setState" : "getState"}`);
    },
  };
  if (!(hasGet && hasSet)) return [both];
  if (typeof source !== "function") {
    return [
      {
        title: "a stateful scheme is passed as a factory",
        run() {
          throw new Error("the scheme keeps state between calls: pass a factory () => scheme so that each check starts from a fresh instance");
        },
      },
    ];
  }
  type Stateful = Required<Pick<WeightingScheme, "getState" | "setState">> & WeightingScheme;
  const fresh = () => source() as Stateful;
  const batch = (scheme: WeightingScheme, call: number) => withInput(random(5, 8, 100 + call), (input) => weightsOf(scheme, input, 5));

  return [
    {
      title: "getState returns a JSON-safe copy: plain finite numbers, unchanged by mutating it",
      run() {
        const scheme = fresh();
        batch(scheme, 0);
        const state = scheme.getState();
        checkStateShape(state);
        const snapshot = JSON.stringify(state);
        if (!sameState(JSON.parse(snapshot), state)) throw new Error("the state does not survive a JSON round trip exactly");
        for (const values of Object.values(state.values)) {
          try {
            (values as number[])[0] = Number.NaN;
          } catch {
            // A frozen copy is fine too.
          }
        }
        if (JSON.stringify(scheme.getState()) !== snapshot) throw new Error("mutating the object getState returned changed the scheme's state: return a copy");
      },
    },
    {
      title: "a fresh scheme given a saved state (through JSON) continues bit for bit",
      run() {
        const original = fresh();
        for (let call = 0; call < 3; call++) batch(original, call);
        const saved = JSON.stringify(original.getState());
        const restored = fresh();
        restored.setState(JSON.parse(saved) as WeightingState);
        for (let call = 3; call < 6; call++) {
          const expected = batch(original, call);
          const got = batch(restored, call);
          if (!sameBits(expected, got)) throw new Error(`call ${call} after restoring: weights [${got}] differ from the uninterrupted [${expected}]`);
        }
        if (!sameState(restored.getState(), original.getState()))
          throw new Error("after the same calls, the restored scheme's state differs from the uninterrupted one's");
      },
    },
    {
      title: "setState refuses a state saved by another scheme with a ConcordError, keeping its own",
      run() {
        const scheme = fresh();
        batch(scheme, 0);
        const before = JSON.stringify(scheme.getState());
        const foreign = { ...scheme.getState(), name: `${scheme.getState().name}-other` };
        let caught: unknown;
        try {
          scheme.setState(foreign);
        } catch (error) {
          caught = error;
        }
        if (!(caught instanceof ConcordError)) throw new Error(`setState accepted (or did not throw a ConcordError for) a state named '${foreign.name}'`);
        if (JSON.stringify(scheme.getState()) !== before) throw new Error("a refused setState changed the scheme's state");
      },
    },
  ];
}

function checkStateShape(state: WeightingState): void {
  if (state === null || typeof state !== "object") throw new Error(`getState returned ${String(state)}; expected { name, values }`);
  if (typeof state.name !== "string" || state.name === "") throw new Error(`getState returned name ${JSON.stringify(state.name)}; expected a non-empty string`);
  if (state.values === null || typeof state.values !== "object") throw new Error("getState returned no values record");
  for (const [key, values] of Object.entries(state.values)) {
    if (!Array.isArray(values) || !values.every((value) => typeof value === "number" && Number.isFinite(value))) {
      throw new Error(`getState's values.${key} is not an array of finite numbers`);
    }
  }
}

function sameState(a: WeightingState, b: WeightingState): boolean {
  const keys = Object.keys(a.values);
  return (
    a.name === b.name &&
    keys.length === Object.keys(b.values).length &&
    keys.every((key) => b.values[key] !== undefined && sameBits(a.values[key]!, b.values[key]!))
  );
}

function weightsOf(scheme: WeightingScheme, input: WeightingInput, tasks: number): number[] {
  const result = scheme.weights(input);
  try {
    return checkWeights(result, tasks, scheme.name);
  } finally {
    if (result?.weights instanceof tf.Tensor) result.weights.dispose();
  }
}

function checkSums(values: readonly number[], options: WeightingConformanceOptions, tolerance: number): void {
  if (options.sumsToOne) {
    const sum = values.reduce((total, value) => total + value, 0);
    if (Math.abs(sum - 1) > tolerance) throw new Error(`expected weights summing to 1, got Σw = ${sum} for [${values}]`);
  }
  if (options.sumAbsToOne) {
    const sum = values.reduce((total, value) => total + Math.abs(value), 0);
    if (Math.abs(sum - 1) > tolerance) throw new Error(`expected Σ|w| = 1, got ${sum} for [${values}]`);
  }
}

function randomInput(tasks: number, size: number, seed: number, groups?: number): WeightingInput {
  const rng = createRng(seed);
  // A shared direction plus noise, so updates partly agree as real task updates do.
  const shared = rng.normalArray(size);
  const values = new Float32Array(tasks * size);
  for (let i = 0; i < tasks; i++) {
    for (let p = 0; p < size; p++) values[i * size + p] = 0.5 * shared[p]! + rng.normal();
  }
  const losses = Float32Array.from({ length: tasks }, () => rng.uniform(0.1, 2));
  const input = { updates: tf.tensor2d(values, [tasks, size]), losses: tf.tensor1d(losses), iteration: 3 };
  return groups === undefined ? input : { ...input, groups: Array.from({ length: tasks }, () => rng.int(groups)) };
}

function zeroInput(tasks: number, size: number, groups?: number): WeightingInput {
  const input = { updates: tf.zeros([tasks, size]) as tf.Tensor2D, losses: tf.zeros([tasks]) as tf.Tensor1D, iteration: 0 };
  return groups === undefined ? input : { ...input, groups: Array.from({ length: tasks }, (_, i) => i % groups) };
}

function withInput<T>(input: WeightingInput, body: (input: WeightingInput) => T): T {
  try {
    return body(input);
  } finally {
    tf.dispose([input.updates, input.losses]);
  }
}

function sameBits(a: ArrayLike<number>, b: ArrayLike<number>): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (!Object.is(a[i], b[i])) return false;
  return true;
}
