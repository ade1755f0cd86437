// Small, self-contained plug-ins for the evaluation tests: a linear model y = w·x + b,
// mean squared error with per-task losses, plain SGD, a linear-task sampler, and a float64
// reference of SGD adaptation on that model (closed-form gradients).
import * as tf from "@tensorflow/tfjs-core";
import { type InnerOptimizer, type Model, type Objective, type Params, type Rng, type Task, type TaskSampler, zipParams } from "@concord/core";

/** y = x·w + b with w [1, 1], b [1]; batched: w [T, 1, 1], b [T, 1]. */
export function linearModel(): Model {
  return {
    name: "linear",
    init: (rng: Rng) => ({ w: tf.tensor2d([rng.normal()], [1, 1]), b: tf.tensor1d([0]) }),
    forward: (params, x) => tf.add(tf.matMul(x, params.w!), params.b!),
    forwardBatched: (params, x) => tf.add(tf.matMul(x, params.w!), tf.reshape(params.b!, [x.shape[0]!, 1, 1])),
  };
}

/** Mean squared error over a task's examples; `taskLosses` takes [T, K, 1] tensors. */
export function squaredError(options: { withAccuracy?: boolean } = {}): Objective {
  const objective: Objective = {
    name: "mse",
    loss: (pred, y) => tf.mean(tf.square(tf.sub(pred, y))) as tf.Scalar,
    taskLosses: (pred, y) => tf.mean(tf.square(tf.sub(pred, y)), [1, 2]) as tf.Tensor1D,
  };
  if (!options.withAccuracy) return objective;
  // A stand-in "accuracy" for tests: the fraction of predictions within 0.5 of the target.
  return { ...objective, metrics: (pred, y) => ({ accuracy: tf.mean(tf.cast(tf.lessEqual(tf.abs(tf.sub(pred, y)), 0.5), "float32")) as tf.Scalar }) };
}

/** θ ← θ − lr·g (elementwise, so it works on stacked parameters too). */
export function plainSgd(lr: number): InnerOptimizer<undefined> {
  return {
    name: "sgd",
    init: () => undefined,
    step: (params: Params, grads: Params) => ({ params: zipParams(params, grads, (p, g) => tf.sub(p, tf.mul(g, lr))), state: undefined }),
  };
}

export interface LinearTaskInfo {
  readonly slope: number;
  readonly intercept: number;
  readonly supportX: number[];
  readonly supportY: number[];
  readonly queryX: number[];
  readonly queryY: number[];
}

/** Tasks y = slope·x + intercept, slope ~ U[−2, 2], intercept ~ U[−1, 1], x ~ U[−2, 2]. */
export function linearTasks(size = 5): TaskSampler & { sampleWithInfo(count: number, rng: Rng): { tasks: Task[]; info: LinearTaskInfo[] } } {
  function sampleWithInfo(count: number, rng: Rng) {
    const info: LinearTaskInfo[] = [];
    for (let i = 0; i < count; i++) {
      const slope = rng.uniform(-2, 2);
      const intercept = rng.uniform(-1, 1);
      const xs = () => Array.from({ length: size }, () => Math.fround(rng.uniform(-2, 2)));
      const supportX = xs();
      const queryX = xs();
      const line = (x: number) => Math.fround(slope * x + intercept);
      info.push({ slope, intercept, supportX, supportY: supportX.map(line), queryX, queryY: queryX.map(line) });
    }
    const column = (values: number[]) => tf.tensor2d(values, [values.length, 1]);
    const tasks = info.map((task) => ({
      support: { x: column(task.supportX), y: column(task.supportY) },
      query: { x: column(task.queryX), y: column(task.queryY) },
    }));
    return { tasks, info };
  }
  return { name: "linear-tasks", sampleWithInfo, sample: (count, rng) => sampleWithInfo(count, rng).tasks };
}

/** Query MSE after 0..steps SGD steps on the support MSE, in float64 (dL/dw = 2/K Σ r·x, dL/db = 2/K Σ r). */
export function referenceLinearLosses(w0: number, b0: number, task: LinearTaskInfo, lr: number, steps: number): number[] {
  const mse = (w: number, b: number, xs: number[], ys: number[]) => xs.reduce((sum, x, k) => sum + (w * x + b - ys[k]!) ** 2, 0) / xs.length;
  let w = w0;
  let b = b0;
  const losses = [mse(w, b, task.queryX, task.queryY)];
  for (let step = 0; step < steps; step++) {
    const k = task.supportX.length;
    let gw = 0;
    let gb = 0;
    task.supportX.forEach((x, i) => {
      const residual = w * x + b - task.supportY[i]!;
      gw += (2 / k) * residual * x;
      gb += (2 / k) * residual;
    });
    w -= lr * gw;
    b -= lr * gb;
    losses.push(mse(w, b, task.queryX, task.queryY));
  }
  return losses;
}
