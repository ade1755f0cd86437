import * as tf from "@tensorflow/tfjs-core";
import { createRng, type Model, type Objective, type Params, type Rng, relativeError, stackParams, tensorGrowth } from "@concord/core";
import { meanSquaredError } from "./objectives.js";

/** A model, or a factory that makes a fresh one (for models that keep state between calls). */
export type ModelSource = Model | (() => Model);

/**
 * Targets for a prediction [K, ...]: "regression" draws N(0, 1) values of the prediction's shape,
 * "classes" draws int32 labels [K] in [0, C) for logits [K, C]; a function makes its own.
 */
export type ModelTargets = "regression" | "classes" | ((prediction: tf.Tensor, rng: Rng) => tf.Tensor);

export interface ModelConformanceOptions {
  /** Shape of one example, without the leading example axis: [1] for the sinusoid MLP, [28, 28, 1] for an image. */
  readonly inputShape: readonly number[];
  /** The objective whose loss the second-order check differentiates. Default meanSquaredError(). */
  readonly objective?: Objective;
  /** How targets are made. Default "regression". */
  readonly targets?: ModelTargets;
  /** Examples K per forward call. Default 5. */
  readonly examples?: number;
  /** Tasks T of the forwardBatched check. Default 3. */
  readonly tasks?: number;
  /** Seed of parameters, inputs, targets and the second-order direction. Default 1. */
  readonly seed?: number;
  /** Largest max|batched − stacked| / max(1, max|stacked|) accepted for forwardBatched. Default 1e-5. */
  readonly batchedTolerance?: number;
  /**
   * Largest relative error ‖H·d − FD‖₂ / ‖FD‖₂ accepted between the Hessian-vector product of
   * nested tf.grads and finite differences of the gradient. Default 1e-2 (see `modelConformanceChecks`).
   */
  readonly secondOrderTolerance?: number;
  /** Step h of the central differences, along a direction of unit norm over all parameters. Default 1e-3. */
  readonly finiteDifferenceStep?: number;
  /**
   * Kernels the model may run (tf kernel names, e.g. `SUPPORTED_KERNELS` of Concord's backend
   * package, the kernels whose gradients Concord provides at every order). When given, one forward
   * (and forwardBatched) plus the loss is profiled with tf.profile and any other kernel fails the
   * check by name. Default: not checked.
   */
  readonly supportedKernels?: readonly string[];
}

/** Directions tried by the second-order check before it gives up on finding a kink-free neighbourhood. */
const SECOND_ORDER_ATTEMPTS = 8;

/** Relative disagreement of one-sided differences at h and h/2 above which a side holds a kink (noise is ~1e-3, a kink O(1)). */
const KINK_THRESHOLD = 0.01;

/** One contract check: `run` throws (or rejects with) an Error that says what was wrong. */
export interface ConformanceCheck {
  readonly title: string;
  run(): void | Promise<void>;
}

/**
 * The contract every model meets, as plain checks (no test framework): `testModel` registers each
 * as a vitest test. Runs on the current tf backend.
 *
 * The second-order check compares H·d, the Hessian of L(θ) = objective.loss(forward(θ, x), y) times
 * a direction d, computed by nested tf.grads, with differences of the gradient ∇L between θ and
 * θ ± h·v (‖v‖ = 1 over all parameters, h = 1e-3, points rounded to float32 and d computed from the
 * rounded points, so rounding θ + h·v is not mistaken for an error). Errors are ‖H·d − FD‖₂ / ‖FD‖₂.
 * - Kinks: relu and max-pool are piecewise linear, and with thousands of units one of them usually
 *   sits within h of its kink, where finite differences of the gradient jump by O(1). Each side is
 *   therefore differenced at h and h/2: a side whose two differences disagree by more than 1e-2
 *   holds a kink and is not used; with both sides clean the central difference is used, with one
 *   the one-sided difference, with none another direction (up to 8). This decision looks only at
 *   finite differences, never at the nested gradient under test.
 * - Tolerance 1e-2: float32 rounding of each gradient (≈ 1e-7·‖∇L‖) divided by h puts correct
 *   models at ≤ 3e-3 (measured over 8 seeds on cpu and wasm: mlp ≤ 1e-3, the 2-block convNet
 *   ≤ 3e-3); O(h²) truncation is ≈ 1e-6. A tanh written with tf.customGrad, whose gradient tfjs does
 *   not differentiate again (second-order MAML silently wrong), measured 3e-2 to 0.18; a missing
 *   term or a gradient treated as a constant is off by O(1) in general.
 */
export function modelConformanceChecks(source: ModelSource, options: ModelConformanceOptions): ConformanceCheck[] {
  const inputShape = [...options.inputShape];
  const objective = options.objective ?? meanSquaredError();
  const targets = options.targets ?? "regression";
  const examples = options.examples ?? 5;
  const taskCount = options.tasks ?? 3;
  const seed = options.seed ?? 1;
  const batchedTolerance = options.batchedTolerance ?? 1e-5;
  const secondOrderTolerance = options.secondOrderTolerance ?? 1e-2;
  const step = options.finiteDifferenceStep ?? 1e-3;
  const fresh = (): Model => (typeof source === "function" ? source() : source);

  const inputs = (count: number, rng: Rng, lead: readonly number[] = []): tf.Tensor => {
    const shape = [...lead, count, ...inputShape];
    return tf.tensor(rng.normalArray(shape.reduce((a, b) => a * b, 1)), shape, "float32");
  };

  const checks: ConformanceCheck[] = [
    {
      title: "has a non-empty string name",
      run() {
        const name: unknown = fresh().name;
        if (typeof name !== "string" || name.trim() === "") throw new Error(`expected a non-empty string name, got ${JSON.stringify(name)}`);
      },
    },
    {
      title: "init is deterministic per seed: same keys, shapes and values bit for bit; another seed gives other values",
      run() {
        const model = fresh();
        withParams(model.init(createRng(seed)), (first) =>
          withParams(model.init(createRng(seed)), (second) =>
            withParams(fresh().init(createRng(seed + 1)), (other) => {
              checkParams(first, "init");
              const difference = paramDifference(first, second);
              if (difference !== undefined) throw new Error(`two inits with seed ${seed} differ: ${difference}`);
              const layout = (params: Params) =>
                Object.entries(params)
                  .map(([key, tensor]) => `${key} [${tensor.shape}]`)
                  .join(", ");
              if (layout(first) !== layout(other))
                throw new Error(`seeds ${seed} and ${seed + 1} gave different parameter layouts: ${layout(first)} vs ${layout(other)}`);
              if (paramDifference(first, other) === undefined) throw new Error(`seeds ${seed} and ${seed + 1} gave identical parameters`);
            }),
          ),
        );
      },
    },
    {
      title: `forward maps x [K, ${inputShape.join(", ")}] to finite predictions [K, ...] for K = 1 and K = ${examples}`,
      run() {
        const model = fresh();
        const rng = createRng(seed);
        withParams(model.init(rng), (params) => {
          const shapes = [1, examples].map((count) =>
            withTensors([inputs(count, rng)], ([x]) =>
              withTensors([model.forward(params, x!)], ([prediction]) => {
                if (!(prediction instanceof tf.Tensor)) throw new Error(`forward returned ${String(prediction)}, expected a tensor`);
                if (prediction.rank < 1 || prediction.shape[0] !== count) {
                  throw new Error(`forward on x [${x!.shape}] returned shape [${prediction.shape}], expected [${count}, ...]`);
                }
                expectFinite(prediction, "forward's prediction");
                return prediction.shape.slice(1).join();
              }),
            ),
          );
          if (shapes[0] !== shapes[1]) throw new Error(`the per-example prediction shape changes with K: [${shapes[0]}] vs [${shapes[1]}]`);
        });
      },
    },
    {
      title: "forward does not dispose or change its params or x, nor the shapes of the params",
      run() {
        const model = fresh();
        const rng = createRng(seed);
        withParams(model.init(rng), (params) =>
          withTensors([inputs(examples, rng)], ([x]) => {
            const before = snapshotParams({ ...params, "(x)": x! });
            tf.dispose(model.forward(params, x!));
            if (model.forwardBatched) {
              withParams(stackParams([params, params]), (stacked) =>
                withTensors([tf.stack([x!, x!])], ([xs]) => tf.dispose(model.forwardBatched!(stacked, xs!))),
              );
            }
            const after = { ...params, "(x)": x! };
            for (const [key, tensor] of Object.entries(after)) {
              if (tensor.isDisposed) throw new Error(`forward disposed ${key}`);
            }
            const difference = paramDifference(before, snapshotParams(after));
            if (difference !== undefined) throw new Error(`forward changed its inputs: ${difference}`);
          }),
        );
      },
    },
    {
      title: "forward, loss and their gradient leak no tensors (tf.memory().numTensors stays flat)",
      run() {
        const model = fresh();
        const rng = createRng(seed);
        withParams(model.init(rng), (params) =>
          withTensors([inputs(examples, rng)], ([x]) =>
            withTensors([makeTargets(model, params, x!, targets, rng)], ([y]) => {
              const body = () => {
                tf.dispose(model.forward(params, x!));
                tf.tidy(() => {
                  gradientOf(model, objective, params, x!, y!);
                });
              };
              const growth = tensorGrowth(body, 3);
              if (growth !== 0) throw new Error(`numTensors grew by ${growth} over 3 forward + gradient calls`);
            }),
          ),
        );
      },
    },
  ];

  if (typeof fresh().forwardBatched === "function") {
    checks.push({
      title: `forwardBatched on params [T, ...] and x [T, K, ${inputShape.join(", ")}] equals stacking forward per task and leaks nothing`,
      run() {
        const model = fresh();
        const rng = createRng(seed);
        const perTask = Array.from({ length: taskCount }, (_, t) => model.init(createRng(seed + 1 + t)));
        try {
          withParams(stackParams(perTask), (stacked) =>
            withTensors([inputs(examples, rng, [taskCount])], ([xs]) => {
              const expected = tf.tidy(() => tf.stack(perTask.map((params, t) => model.forward(params, tf.gather(xs!, t)))));
              withTensors([expected, model.forwardBatched!(stacked, xs!)], ([stackedForward, batched]) => {
                if (!tf.util.arraysEqual(batched!.shape, stackedForward!.shape)) {
                  throw new Error(`forwardBatched returned shape [${batched!.shape}], stacking forward gives [${stackedForward!.shape}]`);
                }
                const error = relativeError(batched!.dataSync(), stackedForward!.dataSync(), 1);
                if (!(error <= batchedTolerance)) throw new Error(`forwardBatched differs from stacked forward: relative error ${error} > ${batchedTolerance}`);
              });
              const growth = tensorGrowth(() => tf.dispose(model.forwardBatched!(stacked, xs!)), 3);
              if (growth !== 0) throw new Error(`numTensors grew by ${growth} over 3 forwardBatched calls`);
            }),
          );
        } finally {
          for (const params of perTask) tf.dispose(Object.values(params));
        }
      },
    });
  }

  checks.push({
    title: `second order: Hessian-vector products by nested tf.grads match central differences of the gradient (relative error ≤ ${secondOrderTolerance})`,
    run() {
      const model = fresh();
      const rng = createRng(seed);
      withParams(model.init(rng), (params) =>
        withTensors([inputs(examples, rng)], ([x]) =>
          withTensors([makeTargets(model, params, x!, targets, rng)], ([y]) => {
            const keys = Object.keys(params);
            const theta = keys.map((key) => Float32Array.from(params[key]!.dataSync()));
            const shaped = (arrays: readonly Float32Array[]): Params =>
              Object.fromEntries(keys.map((key, k) => [key, tf.tensor(arrays[k]!, params[key]!.shape, "float32")]));
            const gradientAt = (arrays: readonly Float32Array[]): number[] =>
              withParams(shaped(arrays), (point) =>
                tf.tidy(() => {
                  const grads = gradientOf(model, objective, point, x!, y!);
                  return keys.flatMap((key) => Array.from(grads[key]!.dataSync()));
                }),
              );
            const hessianTimes = (arrays: readonly Float32Array[]): number[] =>
              withParams(shaped(arrays), (along) =>
                tf.tidy(() => {
                  const hvp = tf.grads((...values: tf.Tensor[]) => {
                    const grads = gradientOf(model, objective, Object.fromEntries(keys.map((key, k) => [key, values[k]!])), x!, y!);
                    return tf.addN(keys.map((key) => tf.sum(tf.mul(grads[key]!, along[key]!))));
                  })(keys.map((key) => params[key]!));
                  return hvp.flatMap((tensor) => Array.from(tensor.dataSync()));
                }),
              );
            const atTheta = gradientAt(theta);
            const kinked: string[] = [];
            for (let attempt = 0; attempt < SECOND_ORDER_ATTEMPTS; attempt++) {
              const direction = unitDirection(theta, rng);
              // θ + s·v rounded to float32; directions are computed exactly from the rounded values,
              // so the rounding of θ + s·v is not mistaken for an error.
              const pointAt = (offset: number) => theta.map((values, k) => Float32Array.from(values, (value, i) => value + offset * direction[k]![i]!));
              const towards = (point: readonly Float32Array[], from: readonly Float32Array[], length: number) =>
                point.map((values, k) => Float32Array.from(values, (value, i) => (value - from[k]![i]!) / length));
              const sides = [1, -1].map((sign) => {
                const far = pointAt(sign * step);
                const near = pointAt((sign * step) / 2);
                const atFar = gradientAt(far);
                const atNear = gradientAt(near);
                const full = atFar.map((value, i) => (sign * (value - atTheta[i]!)) / step);
                const half = atNear.map((value, i) => (sign * (value - atTheta[i]!)) / (step / 2));
                // A kink (relu, max-pool) within this side makes the two one-sided differences
                // disagree by O(1): finite differences say nothing there. The decision uses the
                // finite differences only, never the nested gradient under test.
                const disagreement = normError(full, half, full);
                return { sign, far, atFar, full, clean: disagreement <= KINK_THRESHOLD, disagreement };
              });
              const [plus, minus] = sides as [(typeof sides)[0], (typeof sides)[0]];
              let nested: number[];
              let finite: number[];
              let which: string;
              if (plus.clean && minus.clean) {
                nested = hessianTimes(towards(plus.far, minus.far, 2 * step));
                finite = plus.atFar.map((value, i) => (value - minus.atFar[i]!) / (2 * step));
                which = "central";
              } else if (plus.clean || minus.clean) {
                const side = plus.clean ? plus : minus;
                nested = hessianTimes(side.sign > 0 ? towards(side.far, theta, step) : towards(theta, side.far, step));
                finite = side.full;
                which = side.sign > 0 ? "forward" : "backward";
              } else {
                kinked.push(`${plus.disagreement.toPrecision(2)}/${minus.disagreement.toPrecision(2)}`);
                continue;
              }
              const error = normError(nested, finite, finite);
              if (!(error <= secondOrderTolerance)) {
                const worst = worstEntry(nested, finite);
                throw new Error(
                  `nested tf.grads disagree with ${which} differences of the gradient: relative error ${error.toPrecision(3)} > ${secondOrderTolerance} ` +
                    `(worst entry ${worst.index}: H·d = ${worst.actual}, finite difference ${worst.expected}); ` +
                    "an op of this model has a wrong or missing second-order gradient",
                );
              }
              return;
            }
            throw new Error(
              `found no kink-free side in ${SECOND_ORDER_ATTEMPTS} directions (one-sided differences at h and h/2 disagreed by ${kinked.join(", ")}); ` +
                "try a smaller finiteDifferenceStep or fewer examples",
            );
          }),
        ),
      );
    },
  });

  const supportedKernels = options.supportedKernels;
  if (supportedKernels !== undefined) {
    checks.push({
      title: "runs only supported kernels in forward (and forwardBatched) plus the loss",
      async run() {
        const supported = new Set(supportedKernels);
        const model = fresh();
        const rng = createRng(seed);
        const params = model.init(rng);
        const x = inputs(examples, rng);
        const y = makeTargets(model, params, x, targets, rng);
        const stacked = model.forwardBatched ? stackParams([params, params]) : undefined;
        const xs = stacked ? tf.stack([x, x]) : undefined;
        try {
          const profile = await tf.profile(() => {
            tf.tidy(() => {
              objective.loss(model.forward(params, x), y);
              if (stacked && xs) model.forwardBatched!(stacked, xs);
            });
          });
          // tf.profile also lists customGrad scopes ("unnamed scope"); only registered kernels have gradients to check.
          const kernels = new Set(profile.kernels.map((kernel) => kernel.name).filter((name) => tf.getKernel(name, tf.getBackend()) !== undefined));
          const unsupported = [...kernels].filter((name) => !supported.has(name));
          if (unsupported.length > 0) {
            throw new Error(
              `model '${model.name}' runs kernels outside the supported list: ${unsupported.join(", ")} (no second-order-correct gradient for them)`,
            );
          }
        } finally {
          tf.dispose([...Object.values(params), x, y, ...(stacked ? Object.values(stacked) : []), ...(xs ? [xs] : [])]);
        }
      },
    });
  }
  return checks;
}

/** ∇_θ objective.loss(model.forward(θ, x), y) by tf.grads, keyed like `params`. */
function gradientOf(model: Model, objective: Objective, params: Params, x: tf.Tensor, y: tf.Tensor): Params {
  const keys = Object.keys(params);
  let grads: tf.Tensor[];
  try {
    grads = tf.grads((...values: tf.Tensor[]) => objective.loss(model.forward(Object.fromEntries(keys.map((key, k) => [key, values[k]!])), x), y))(
      keys.map((key) => params[key]!),
    );
  } catch (error) {
    if (error instanceof Error && error.message.includes("gradient function not found")) {
      throw new Error(`${error.message}: install Concord's gradient set before running this suite (the backend setup call)`, { cause: error });
    }
    throw error;
  }
  return Object.fromEntries(keys.map((key, k) => [key, grads[k]!]));
}

function makeTargets(model: Model, params: Params, x: tf.Tensor, targets: ModelTargets, rng: Rng): tf.Tensor {
  const prediction = model.forward(params, x);
  try {
    if (typeof targets === "function") return targets(prediction, rng);
    if (targets === "classes") {
      const classes = prediction.shape[prediction.rank - 1]!;
      const labels = Int32Array.from({ length: prediction.size / classes }, () => rng.int(classes));
      return tf.tensor(labels, prediction.shape.slice(0, -1), "int32");
    }
    return tf.tensor(rng.normalArray(prediction.size), prediction.shape, "float32");
  } finally {
    prediction.dispose();
  }
}

/** A random direction of unit Euclidean norm over all parameters together. */
function unitDirection(theta: readonly Float32Array[], rng: Rng): Float64Array[] {
  const direction = theta.map((values) => Float64Array.from(values, () => rng.normal()));
  const norm = Math.sqrt(direction.reduce((total, values) => values.reduce((sum, value) => sum + value * value, total), 0));
  return direction.map((values) => values.map((value) => value / norm));
}

function checkParams(params: Params, what: string): void {
  if (params === null || typeof params !== "object" || Object.keys(params).length === 0) throw new Error(`${what} returned no parameters`);
  for (const [key, tensor] of Object.entries(params)) {
    if (!(tensor instanceof tf.Tensor)) throw new Error(`${what}: parameter ${key} is not a tensor`);
    if (tensor.dtype !== "float32") throw new Error(`${what}: parameter ${key} has dtype ${tensor.dtype}, expected float32`);
    expectFinite(tensor, `${what}: parameter ${key}`);
  }
}

function expectFinite(tensor: tf.Tensor, what: string): void {
  const values = tensor.dataSync();
  for (let i = 0; i < values.length; i++) if (!Number.isFinite(values[i])) throw new Error(`${what} has a non-finite value ${values[i]} at ${i}`);
}

type ParamSnapshot = Readonly<Record<string, { readonly shape: readonly number[]; readonly values: readonly number[] }>>;

function snapshotParams(params: Params): ParamSnapshot {
  return Object.fromEntries(Object.entries(params).map(([key, tensor]) => [key, { shape: tensor.shape, values: Array.from(tensor.dataSync()) }]));
}

/** Where two parameter maps (or snapshots) differ in keys, key order, shapes or bits; undefined when identical. */
function paramDifference(a: Params | ParamSnapshot, b: Params | ParamSnapshot): string | undefined {
  const left = isSnapshot(a) ? a : snapshotParams(a);
  const right = isSnapshot(b) ? b : snapshotParams(b);
  if (Object.keys(left).join() !== Object.keys(right).join()) return `keys [${Object.keys(left)}] vs [${Object.keys(right)}]`;
  for (const [key, { shape, values }] of Object.entries(left)) {
    const other = right[key]!;
    if (shape.join() !== other.shape.join()) return `${key} has shape [${shape}] vs [${other.shape}]`;
    for (let i = 0; i < values.length; i++) if (!Object.is(values[i], other.values[i])) return `${key}[${i}] = ${values[i]} vs ${other.values[i]}`;
  }
  return undefined;
}

function isSnapshot(value: Params | ParamSnapshot): value is ParamSnapshot {
  return Object.values(value).every((entry) => !(entry instanceof tf.Tensor));
}

/** ‖a − b‖₂ / max(‖scale‖₂, 1e-12): how far apart `a` and `b` are, relative to the size of `scale`. */
function normError(a: readonly number[], b: readonly number[], scale: readonly number[]): number {
  let difference = 0;
  let size = 0;
  for (let i = 0; i < b.length; i++) {
    difference += (a[i]! - b[i]!) ** 2;
    size += scale[i]! ** 2;
  }
  return Math.sqrt(difference) / Math.max(Math.sqrt(size), 1e-12);
}

function worstEntry(actual: ArrayLike<number>, expected: ArrayLike<number>): { index: number; actual: number; expected: number } {
  let index = 0;
  for (let i = 0; i < expected.length; i++) if (Math.abs(actual[i]! - expected[i]!) > Math.abs(actual[index]! - expected[index]!)) index = i;
  return { index, actual: actual[index]!, expected: expected[index]! };
}

function withParams<T>(params: Params, body: (params: Params) => T): T {
  try {
    return body(params);
  } finally {
    tf.dispose(Object.values(params ?? {}));
  }
}

function withTensors<T>(tensors: tf.Tensor[], body: (tensors: tf.Tensor[]) => T): T {
  try {
    return body(tensors);
  } finally {
    tf.dispose(tensors.filter((tensor) => tensor instanceof tf.Tensor));
  }
}
