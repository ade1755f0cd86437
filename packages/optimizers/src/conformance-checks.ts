import * as tf from "@tensorflow/tfjs-core";
import { createRng, type InnerOptimizer, type Params, type Rng, relativeError, stackParams, tensorGrowth } from "@concord/core";

/** An inner optimizer, or a factory that makes a fresh one. */
export type InnerOptimizerSource = InnerOptimizer | (() => InnerOptimizer);

export interface InnerOptimizerConformanceOptions {
  /** Seed of the parameters, gradients and directions. Default 1. */
  readonly seed?: number;
  /** Tasks T of the leading-task-axis check. Default 3. */
  readonly tasks?: number;
  /** Largest max|batched − per task| / max(1, max|per task|) accepted. Default 1e-6. */
  readonly batchedTolerance?: number;
  /** Largest error of the derivative through `step` against finite differences, relative to its second-order part. Default 1e-2. */
  readonly secondOrderTolerance?: number;
}

/** One contract check: `run` throws an Error that says what was wrong. */
export interface ConformanceCheck {
  readonly title: string;
  run(): void;
}

/** Parameter layout the checks step: a matrix, a vector and a scalar. */
const SHAPES: Readonly<Record<string, readonly number[]>> = { "layer/weight": [3, 4], "layer/bias": [4], scale: [] };

/**
 * The contract every inner optimizer meets, as plain checks (no test framework):
 * `testInnerOptimizer` registers each as a vitest test. Runs on the current tf backend.
 *
 * The differentiability check is what second-order MAML needs: for the inner loss
 * L(θ) = Σ a⊙θ²/2 + Σ c⊙tanh θ and the query-like F(θ') = Σ e⊙tanh θ', the derivative of
 * F(step(θ, ∇L(θ)).params) along a random direction, by tf.grads through the step and through ∇L,
 * matches the central difference of F at h = 1e-2. The error is measured against the second-order
 * part (the exact derivative minus the first-order one, with ∇L held constant), so it does not fade
 * with a small learning rate: a step that cuts the tape (dataSync, a stop-gradient on the
 * gradients) is off by 100% of that part. Directions along which that part is within 100× float32
 * noise are skipped (the choice never looks at the derivative under test); two must be judged.
 * Optimizers with their own parameters (ownParams) get them in init's map, at their initial values.
 * Everything is smooth: O(h²) truncation plus float32 rounding put sgd at ≤ 3e-4 of the part
 * (lr 0.1 and 0.4, cpu and wasm); the default tolerance is 1e-2.
 */
export function innerOptimizerConformanceChecks(source: InnerOptimizerSource, options: InnerOptimizerConformanceOptions = {}): ConformanceCheck[] {
  const seed = options.seed ?? 1;
  const taskCount = options.tasks ?? 3;
  const batchedTolerance = options.batchedTolerance ?? 1e-6;
  const secondOrderTolerance = options.secondOrderTolerance ?? 1e-2;
  const fresh = (): InnerOptimizer => (typeof source === "function" ? source() : source);

  return [
    {
      title: "has a non-empty string name",
      run() {
        const name: unknown = fresh().name;
        if (typeof name !== "string" || name.trim() === "") throw new Error(`expected a non-empty string name, got ${JSON.stringify(name)}`);
      },
    },
    {
      title: "step returns finite float32 params with the same keys, key order and shapes",
      run() {
        const optimizer = fresh();
        const rng = createRng(seed);
        withParams([randomParams(rng), randomParams(rng)], ([params, grads]) => {
          const state = initState(optimizer, params!);
          const result = optimizer.step(params!, grads!, state);
          try {
            const layout = (p: Params) =>
              Object.entries(p)
                .map(([key, tensor]) => `${key} ${tensor.dtype}[${tensor.shape}]`)
                .join(", ");
            if (result === null || typeof result !== "object" || result.params === null || typeof result.params !== "object") {
              throw new Error(`step returned ${String(result)}, expected { params, state }`);
            }
            for (const [key, tensor] of Object.entries(result.params)) {
              if (!(tensor instanceof tf.Tensor)) throw new Error(`step's params.${key} is not a tensor`);
            }
            if (layout(result.params) !== layout(params!)) throw new Error(`step returned ${layout(result.params)}, expected ${layout(params!)}`);
            for (const [key, tensor] of Object.entries(result.params)) {
              const values = tensor.dataSync();
              const at = values.findIndex((value) => !Number.isFinite(value));
              if (at >= 0) throw new Error(`step's params.${key}[${at}] = ${values[at]} is not finite`);
            }
          } finally {
            disposeNew(result, [params!, grads!], state);
            disposeTensorsIn(state, [params!, grads!]);
          }
        });
      },
    },
    {
      title: "step does not mutate or dispose its params, grads or state",
      run() {
        const optimizer = fresh();
        const rng = createRng(seed);
        withParams([randomParams(rng), randomParams(rng)], ([params, grads]) => {
          const state = initState(optimizer, params!);
          const inputs = { params: params!, grads: grads!, state: tensorsIn(state) };
          const before = snapshot(inputs);
          const result = optimizer.step(params!, grads!, state);
          try {
            for (const [group, tensors] of Object.entries(inputs)) {
              for (const [key, tensor] of Object.entries(tensors)) if (tensor.isDisposed) throw new Error(`step disposed ${group}.${key}`);
            }
            const difference = firstDifference(before, snapshot(inputs));
            if (difference !== undefined) throw new Error(`step changed its inputs: ${difference}`);
          } finally {
            disposeNew(result, [params!, grads!], state);
            disposeTensorsIn(state, [params!, grads!]);
          }
        });
      },
    },
    {
      title: "init and step leak no tensors (tf.memory().numTensors stays flat)",
      run() {
        const optimizer = fresh();
        const rng = createRng(seed);
        withParams([randomParams(rng), randomParams(rng)], ([params, grads]) => {
          const body = () => {
            const state = initState(optimizer, params!);
            const first = optimizer.step(params!, grads!, state);
            const second = optimizer.step(first.params, grads!, first.state);
            disposeNew(second, [params!, grads!, first.params], first.state);
            disposeNew(first, [params!, grads!], state);
            disposeTensorsIn(state, [params!, grads!]);
          };
          const growth = tensorGrowth(body, 3);
          if (growth !== 0) throw new Error(`numTensors grew by ${growth} over 3 rounds of init + 2 steps whose results were disposed`);
        });
      },
    },
    {
      title: "state round-trips: step's state has init's structure, feeds the next step, and equal inputs give equal results",
      run() {
        const optimizer = fresh();
        const rng = createRng(seed);
        withParams([randomParams(rng), randomParams(rng), randomParams(rng)], ([params, grads, nextGrads]) => {
          const state = initState(optimizer, params!);
          const first = optimizer.step(params!, grads!, state);
          const structure = (value: unknown) => describeStructure(value);
          try {
            if (structure(first.state) !== structure(state)) {
              throw new Error(`step returned state ${structure(first.state)}, init made ${structure(state)}`);
            }
            const again = optimizer.step(first.params, nextGrads!, first.state);
            const repeat = optimizer.step(first.params, nextGrads!, first.state);
            try {
              const difference = firstDifference(snapshot({ params: again.params }), snapshot({ params: repeat.params }));
              if (difference !== undefined) throw new Error(`two steps from the same params, grads and state differ: ${difference}`);
              const stateDifference = firstDifference(snapshot({ state: tensorsIn(again.state) }), snapshot({ state: tensorsIn(repeat.state) }));
              if (stateDifference !== undefined) throw new Error(`two steps from the same state returned different states: ${stateDifference}`);
            } finally {
              disposeNew(again, [params!, grads!, nextGrads!, first.params], first.state);
              disposeNew(repeat, [params!, grads!, nextGrads!, first.params, again.params], first.state, again.state);
            }
          } finally {
            disposeNew(first, [params!, grads!], state);
            disposeTensorsIn(state, [params!, grads!]);
          }
        });
      },
    },
    {
      title: `works on a leading task axis: two steps on params [T, ...] equal the per-task steps, elementwise (T = ${taskCount})`,
      run() {
        const optimizer = fresh();
        const rng = createRng(seed);
        const perTask = Array.from({ length: taskCount }, () => [randomParams(rng), randomParams(rng), randomParams(rng)] as const);
        const run = (params: Params, grads: Params, nextGrads: Params): number[] => {
          const state = initState(optimizer, params);
          const first = optimizer.step(params, grads, state);
          const second = optimizer.step(first.params, nextGrads, first.state);
          const values = Object.values(second.params).flatMap((tensor) => Array.from(tensor.dataSync()));
          disposeNew(second, [params, grads, nextGrads, first.params], first.state);
          disposeNew(first, [params, grads, nextGrads], state);
          disposeTensorsIn(state, [params, grads, nextGrads]);
          return values;
        };
        try {
          const expected = perTask.map(([params, grads, nextGrads]) => run(params, grads, nextGrads));
          const stacked = [0, 1, 2].map((i) => stackParams(perTask.map((triple) => triple[i]!)));
          const batched = withParams(stacked, ([params, grads, nextGrads]) => {
            const state = initState(optimizer, params!);
            const first = optimizer.step(params!, grads!, state);
            const second = optimizer.step(first.params, nextGrads!, first.state);
            try {
              for (const [key, tensor] of Object.entries(second.params)) {
                const want = [taskCount, ...SHAPES[key]!];
                if (tensor.shape.join() !== want.join()) throw new Error(`batched step returned ${key} of shape [${tensor.shape}], expected [${want}]`);
              }
              // Per task t, the same flattening as `run`: every key's slice t, in key order.
              return Array.from({ length: taskCount }, (_, t) =>
                Object.values(second.params).flatMap((tensor) =>
                  Array.from(tensor.dataSync().subarray(t * (tensor.size / taskCount), (t + 1) * (tensor.size / taskCount))),
                ),
              );
            } finally {
              disposeNew(second, [params!, grads!, nextGrads!, first.params], first.state);
              disposeNew(first, [params!, grads!, nextGrads!], state);
              disposeTensorsIn(state, [params!, grads!, nextGrads!]);
            }
          });
          expected.forEach((values, t) => {
            const error = relativeError(batched[t]!, values, 1);
            if (!(error <= batchedTolerance))
              throw new Error(`task ${t}: the batched step differs from its own step by relative error ${error} > ${batchedTolerance}`);
          });
        } finally {
          for (const triple of perTask) for (const params of triple) tf.dispose(Object.values(params));
        }
      },
    },
    {
      title: "is differentiable: d/dθ of a loss after step(θ, ∇L(θ)) matches finite differences (second order through the update)",
      run() {
        const optimizer = fresh();
        const rng = createRng(seed);
        withParams([randomParams(rng), randomParams(rng, 1, 3), randomParams(rng), randomParams(rng)], ([theta, a, c, e]) => {
          const keys = Object.keys(theta!);
          const innerLoss = (p: Params) =>
            tf.addN(keys.map((key) => tf.add(tf.sum(tf.mul(a![key]!, tf.mul(tf.square(p[key]!), 0.5))), tf.sum(tf.mul(c![key]!, tf.tanh(p[key]!))))));
          const innerGradients = (values: tf.Tensor[]): tf.Tensor[] =>
            tf.grads((...inner: tf.Tensor[]) => innerLoss(Object.fromEntries(keys.map((key, k) => [key, inner[k]!]))))(values);
          /** F(step(θ, G)) with G = ∇L(θ) on the tape, or G fixed (`constantGrads`: the first-order approximation). */
          const afterStep = (values: tf.Tensor[], constantGrads?: tf.Tensor[]): tf.Scalar => {
            const p = Object.fromEntries(keys.map((key, k) => [key, values[k]!]));
            const gradients = constantGrads ?? innerGradients(values);
            const stepped = optimizer.step(p, Object.fromEntries(keys.map((key, k) => [key, gradients[k]!])), initState(optimizer, p)).params;
            return tf.addN(keys.map((key) => tf.sum(tf.mul(e![key]!, tf.tanh(stepped[key]!))))) as tf.Scalar;
          };
          const h = 1e-2;
          const thetaValues = keys.map((key) => theta![key]!);
          let conclusive = 0;
          const faint: string[] = [];
          for (let attempt = 0; attempt < 8 && conclusive < 2; attempt++) {
            const direction = keys.map((key) => rng.normalArray(theta![key]!.size));
            const along = (sign: number): Params =>
              Object.fromEntries(
                keys.map((key, k) => {
                  const values = theta![key]!.dataSync();
                  return [
                    key,
                    tf.tensor(
                      Float32Array.from(values, (value, i) => value + sign * h * direction[k]![i]!),
                      theta![key]!.shape,
                      "float32",
                    ),
                  ];
                }),
              );
            const valueAt = (point: Params) => withParams([point], ([p]) => tf.tidy(() => afterStep(keys.map((key) => p![key]!)).dataSync()[0]!));
            const plus = along(1);
            const minus = along(-1);
            // The exact direction between the float32-rounded points.
            const d = keys.map((key) => Array.from(plus[key]!.dataSync(), (value, i) => (value - minus[key]!.dataSync()[i]!) / (2 * h)));
            const [valuePlus, valueMinus] = [valueAt(plus), valueAt(minus)];
            const finite = (valuePlus - valueMinus) / (2 * h);
            const dot = (gradient: number[][]) => gradient.reduce((total, values, k) => values.reduce((sum, value, i) => sum + value * d[k]![i]!, total), 0);
            let analytic: number;
            let firstOrder: number;
            try {
              analytic = dot(
                tf.tidy(() =>
                  tf
                    .grads((...values: tf.Tensor[]) => afterStep(values))(thetaValues)
                    .map((tensor) => Array.from(tensor.dataSync())),
                ),
              );
              firstOrder = dot(
                tf.tidy(() => {
                  const fixed = innerGradients(thetaValues);
                  return tf
                    .grads((...values: tf.Tensor[]) => afterStep(values, fixed))(thetaValues)
                    .map((tensor) => Array.from(tensor.dataSync()));
                }),
              );
            } catch (error) {
              throw new Error(`differentiating through step failed (does it leave the tape, e.g. via dataSync?): ${String(error)}`);
            }
            // Judge the second-order part (what the first-order approximation drops) on its own, so the
            // check does not fade with a small learning rate; it must stand clear of float32 noise.
            const secondOrderPart = finite - firstOrder;
            const noise = (1e-6 * (Math.abs(valuePlus) + Math.abs(valueMinus))) / (2 * h);
            if (Math.abs(secondOrderPart) < 100 * noise) {
              // Too faint to judge along this direction; the choice uses finite differences and the
              // first-order derivative only, never the derivative under test.
              faint.push(secondOrderPart.toPrecision(2));
              continue;
            }
            conclusive += 1;
            const error = Math.abs(analytic - finite) / Math.abs(secondOrderPart);
            if (!(error <= secondOrderTolerance)) {
              throw new Error(
                `directional derivative through step: tf.grads gives ${analytic}, central difference ${finite}, first-order approximation ${firstOrder}; ` +
                  `error ${error} of the second-order part > ${secondOrderTolerance}: step is not differentiable with respect to its grads (a stop-gradient or a value read off the tape?)`,
              );
            }
          }
          if (conclusive < 2) {
            throw new Error(
              `inconclusive: along ${faint.length} directions the second-order part of the derivative (${faint.join(", ")}) was within 100× float32 noise; ` +
                "test this optimizer with a larger learning rate",
            );
          }
        });
      },
    },
  ];
}

/** Tensors made by ownParams.init for a state, disposed with it (the state need not hold them). */
const ownParamTensors = new WeakMap<object, tf.Tensor[]>();

/**
 * `init(params)` as an inner loop calls it: with the optimizer's own parameters (ownParams, e.g.
 * Meta-SGD's rates at their initial value) added to the map, as train() adds them.
 */
function initState(optimizer: InnerOptimizer, params: Params): unknown {
  if (!optimizer.ownParams) return optimizer.init(params);
  const own = optimizer.ownParams.init(params);
  const state = optimizer.init({ ...params, ...own });
  if (state !== null && typeof state === "object") ownParamTensors.set(state, Object.values(own));
  else tf.dispose(Object.values(own));
  return state;
}

function randomParams(rng: Rng, low = -1, high = 1): Params {
  return Object.fromEntries(
    Object.entries(SHAPES).map(([key, shape]) => {
      const size = shape.reduce((a, b) => a * b, 1);
      return [
        key,
        tf.tensor(
          Float32Array.from({ length: size }, () => rng.uniform(low, high)),
          [...shape],
          "float32",
        ),
      ];
    }),
  );
}

/** Every tensor inside a state (objects and arrays walked), keyed by its path. */
function tensorsIn(state: unknown, path = "state"): Record<string, tf.Tensor> {
  if (state instanceof tf.Tensor) return { [path]: state };
  if (state === null || typeof state !== "object") return {};
  return Object.assign({}, ...Object.entries(state).map(([key, value]) => tensorsIn(value, `${path}.${key}`)));
}

/** The shape of a state: its keys and, for tensors, dtype and shape. */
function describeStructure(value: unknown): string {
  if (value instanceof tf.Tensor) return `${value.dtype}[${value.shape}]`;
  if (value === null || typeof value !== "object") return value === null ? "null" : typeof value;
  return `{${Object.entries(value)
    .map(([key, entry]) => `${key}: ${describeStructure(entry)}`)
    .join(", ")}}`;
}

type Snapshot = Readonly<Record<string, readonly number[]>>;

function snapshot(groups: Readonly<Record<string, Readonly<Record<string, tf.Tensor>>>>): Snapshot {
  const out: Record<string, readonly number[]> = {};
  for (const [group, tensors] of Object.entries(groups)) {
    for (const [key, tensor] of Object.entries(tensors)) out[`${group}.${key} [${tensor.shape}]`] = Array.from(tensor.dataSync());
  }
  return out;
}

function firstDifference(a: Snapshot, b: Snapshot): string | undefined {
  if (Object.keys(a).join() !== Object.keys(b).join()) return `entries [${Object.keys(a)}] vs [${Object.keys(b)}]`;
  for (const [key, values] of Object.entries(a)) {
    const other = b[key]!;
    for (let i = 0; i < values.length; i++) if (!Object.is(values[i], other[i])) return `${key}[${i}] = ${values[i]} vs ${other[i]}`;
  }
  return undefined;
}

/** Disposes what a step returned, except tensors that are (or were passed as) inputs. */
function disposeNew(result: { params: Params; state: unknown } | undefined, inputs: readonly Params[], ...states: unknown[]): void {
  if (result === null || typeof result !== "object") return;
  const keep = new Set<tf.Tensor>([...inputs.flatMap((p) => Object.values(p)), ...states.flatMap((state) => Object.values(tensorsIn(state)))]);
  const created = [...Object.values(result.params ?? {}), ...Object.values(tensorsIn(result.state))];
  tf.dispose(created.filter((tensor) => tensor instanceof tf.Tensor && !keep.has(tensor)));
}

function disposeTensorsIn(state: unknown, inputs: readonly Params[]): void {
  if (state !== null && typeof state === "object") tf.dispose(ownParamTensors.get(state) ?? []);
  const keep = new Set<tf.Tensor>(inputs.flatMap((p) => Object.values(p)));
  tf.dispose(Object.values(tensorsIn(state)).filter((tensor) => !keep.has(tensor)));
}

function withParams<T>(list: Params[], body: (list: Params[]) => T): T {
  try {
    return body(list);
  } finally {
    for (const params of list) tf.dispose(Object.values(params));
  }
}
