// Losses. Both are written only with kernels whose Concord gradients are exact at second order
// (no tf.losses, no tf.logSoftmax: those are customGrad ops that cannot be differentiated twice).
// Cross-entropy runs as one kernel each way (SOFTMAX_CROSS_ENTROPY_KERNEL) where @concord/backend
// registered it for the active backend, else as the tf ops below.
import * as tf from "@tensorflow/tfjs-core";
import { ConcordError, type Objective, SOFTMAX_CROSS_ENTROPY_KERNEL, stopGradient } from "@concord/core";

function expectSameShape(pred: tf.Tensor, y: tf.Tensor): void {
  if (!tf.util.arraysEqual(pred.shape, y.shape)) {
    throw new ConcordError(`expected targets of shape [${pred.shape}] (the prediction's shape), got [${y.shape}]`, { field: "y" });
  }
}

function asFloat(t: tf.Tensor): tf.Tensor {
  return t.dtype === "float32" ? t : tf.cast(t, "float32");
}

/** Axes 1 … rank−1: everything but the leading task axis. */
function innerAxes(t: tf.Tensor, field: string, minRank: number): number[] {
  if (t.rank < minRank) {
    throw new ConcordError(`expected a leading task axis (rank >= ${minRank}), got shape [${t.shape}]`, { field });
  }
  return Array.from({ length: t.rank - 1 }, (_, i) => i + 1);
}

/**
 * Mean squared error: L = mean over every element of (pred − y)², the same as
 * `torch.nn.MSELoss()` (for one output per example, the mean over examples). `taskLosses` takes
 * [T, ...] predictions and targets and returns the per-task means [T].
 */
export function meanSquaredError(): Objective {
  return {
    name: "mse",
    loss(pred, y) {
      expectSameShape(pred, y);
      return tf.tidy(() => tf.mean(tf.squaredDifference(pred, asFloat(y))) as tf.Scalar);
    },
    taskLosses(pred, y) {
      expectSameShape(pred, y);
      const axes = innerAxes(pred, "pred", 2);
      return tf.tidy(() => tf.mean(tf.squaredDifference(pred, asFloat(y)), axes) as tf.Tensor1D);
    },
  };
}

/** Labels already checked (tensors are immutable, so each needs checking once). */
const checkedLabels = new WeakSet<tf.Tensor>();

/** Checks that `y` holds integer class indices in [0, classes) for logits of shape [..., classes]. */
function expectLabels(logits: tf.Tensor, y: tf.Tensor): void {
  const expectedShape = logits.shape.slice(0, -1);
  if (logits.rank < 2 || !tf.util.arraysEqual(y.shape, expectedShape)) {
    throw new ConcordError(`expected integer class labels of shape [${expectedShape}] for logits of shape [${logits.shape}], got [${y.shape}]`, { field: "y" });
  }
  if (checkedLabels.has(y)) return;
  const classes = logits.shape[logits.rank - 1] ?? 0;
  const values = y.dataSync();
  for (let i = 0; i < values.length; i++) {
    const label = values[i]!;
    if (!Number.isInteger(label) || label < 0 || label >= classes) {
      throw new ConcordError(`expected class indices that are integers in [0, ${classes}), got ${label} at position ${i}`, { field: "y" });
    }
  }
  checkedLabels.add(y);
}

/** One-hot float rows (built as int32 then cast: tfjs-backend-wasm 4.22 ignores oneHot's dtype). */
function oneHot(labels: tf.Tensor, classes: number): tf.Tensor {
  const ints = labels.dtype === "int32" ? labels : tf.cast(labels, "int32");
  return tf.cast(tf.oneHot(ints, classes), "float32");
}

/**
 * Per-example cross-entropy over the last axis: logSumExp(z) − z[y], with
 * logSumExp(z) = m + log Σ exp(z − m) for m = stopGradient(max z) (the shift changes nothing but
 * overflow, so it is kept out of differentiation).
 */
function perExampleCrossEntropy(logits: tf.Tensor, labels: tf.Tensor): tf.Tensor {
  return crossEntropyKernel(logits, labels) ?? crossEntropyOps(logits, labels);
}

/**
 * The per-example cross-entropy as one kernel when SOFTMAX_CROSS_ENTROPY_KERNEL and its gradient are
 * registered for the active backend (see @concord/core), else undefined. It returns per-example
 * values so that `loss` and `taskLosses` both take their mean in tf, as the op form does.
 */
function crossEntropyKernel(logits: tf.Tensor, labels: tf.Tensor): tf.Tensor | undefined {
  if (logits.dtype !== "float32" || !tf.getKernel(SOFTMAX_CROSS_ENTROPY_KERNEL, tf.getBackend()) || !tf.getGradient(SOFTMAX_CROSS_ENTROPY_KERNEL)) {
    return undefined;
  }
  const ints = labels.dtype === "int32" ? labels : tf.cast(labels, "int32");
  return tf.engine().runKernel(SOFTMAX_CROSS_ENTROPY_KERNEL, { logits, labels: ints }) as tf.Tensor;
}

/** perExampleCrossEntropy with differentiable tf ops (where the kernel is not registered). */
function crossEntropyOps(logits: tf.Tensor, labels: tf.Tensor): tf.Tensor {
  const last = logits.rank - 1;
  const classes = logits.shape[last] ?? 0;
  const shift = stopGradient(tf.max(logits, last, true));
  const logSumExp = tf.add(tf.log(tf.sum(tf.exp(tf.sub(logits, shift)), last)), tf.squeeze(shift, [last]));
  const picked = tf.sum(tf.mul(logits, oneHot(labels, classes)), last);
  return tf.sub(logSumExp, picked);
}

/**
 * Softmax cross-entropy from logits with integer class labels (int32 or integer-valued float):
 * L = mean_k [ logSumExp(z_k) − z_k[y_k] ] for logits [K, C] and labels [K]. `taskLosses` takes
 * logits [T, K, C] and labels [T, K] and returns the per-task losses [T]. `metrics` reports
 * `accuracy`, the fraction of examples whose arg-max logit is the label.
 */
export function softmaxCrossEntropy(): Objective {
  return {
    name: "cross-entropy",
    loss(logits, y) {
      expectLabels(logits, y);
      return tf.tidy(() => tf.mean(perExampleCrossEntropy(logits, y)) as tf.Scalar);
    },
    taskLosses(logits, y) {
      expectLabels(logits, y);
      const axes = innerAxes(y, "y", 2);
      return tf.tidy(() => tf.mean(perExampleCrossEntropy(logits, y), axes) as tf.Tensor1D);
    },
    metrics(logits, y) {
      expectLabels(logits, y);
      return {
        accuracy: tf.tidy(() => {
          const predicted = tf.argMax(logits, logits.rank - 1);
          const labels = y.dtype === "int32" ? y : tf.cast(y, "int32");
          return tf.mean(tf.cast(tf.equal(predicted, labels), "float32")) as tf.Scalar;
        }),
      };
    },
  };
}
