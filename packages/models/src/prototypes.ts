// The classifier of Prototypical Networks (Snell, Swersky & Zemel 2017) on top of any embedding:
// shared by protoNet() in @concord/algorithms (training) and fewShotClassifier() in @concord/deploy.
import * as tf from "@tensorflow/tfjs-core";
import { ConcordError, expect, expectInteger } from "@concord/core";

/**
 * Class prototypes c_k = (1/|S_k|) Σ_{i ∈ S_k} e_i (Snell et al. 2017, eq. 1), as one matMul of the
 * per-class averaging matrix with the embeddings. embeddings: [S, D]; labels: integer class indices
 * [S] (int32 or integer-valued float) in [0, classes), every class at least once. Returns [classes, D],
 * differentiable with respect to the embeddings.
 */
export function classPrototypes(embeddings: tf.Tensor, labels: tf.Tensor, classes: number): tf.Tensor2D {
  expectInteger(classes, "classes", 1);
  expect(embeddings instanceof tf.Tensor && embeddings.rank === 2, "embeddings", `expected a [examples, dimensions] tensor, got ${shapeText(embeddings)}`);
  expect(
    labels instanceof tf.Tensor && labels.rank === 1 && labels.shape[0] === embeddings.shape[0],
    "labels",
    `expected one label per embedding (shape [${embeddings.shape[0]}]), got ${shapeText(labels)}`,
  );
  const counts = new Array<number>(classes).fill(0);
  labels.dataSync().forEach((label, i) => {
    if (!Number.isInteger(label) || label < 0 || label >= classes) {
      throw new ConcordError(`expected class indices that are integers in [0, ${classes}), got ${label} at position ${i}`, { field: "labels" });
    }
    counts[label]! += 1;
  });
  const empty = counts.flatMap((count, k) => (count === 0 ? [k] : []));
  if (empty.length > 0) throw new ConcordError(`expected at least one example of every class, got none of class ${empty.join(", ")}`, { field: "labels" });
  return tf.tidy(() => {
    const ints = labels.dtype === "int32" ? labels : tf.cast(labels, "int32");
    // averaging[k, i] = 1/|S_k| when example i is of class k.
    const averaging = tf.div(tf.transpose(tf.cast(tf.oneHot(ints, classes), "float32")), tf.tensor2d(counts, [classes, 1]));
    return tf.matMul(averaging, embeddings) as tf.Tensor2D;
  });
}

/**
 * Logits z_qk = −‖e_q − c_k‖² (Snell et al. 2017, eq. 2 with the squared Euclidean distance), so
 * softmax(z_q) is the prototype classifier's p(y = k | x_q). queries [Q, D], prototypes [N, D] → [Q, N].
 * Computed as a difference per pair (not ‖e‖² − 2eᵀc + ‖c‖², which cancels catastrophically).
 */
export function prototypeLogits(queries: tf.Tensor, prototypes: tf.Tensor): tf.Tensor2D {
  expect(queries instanceof tf.Tensor && queries.rank === 2, "queries", `expected a [queries, dimensions] tensor, got ${shapeText(queries)}`);
  expect(
    prototypes instanceof tf.Tensor && prototypes.rank === 2 && prototypes.shape[1] === queries.shape[1],
    "prototypes",
    `expected a [classes, ${queries.shape[1]}] tensor, got ${shapeText(prototypes)}`,
  );
  return tf.tidy(() => tf.neg(tf.sum(tf.squaredDifference(tf.expandDims(queries, 1), tf.expandDims(prototypes, 0)), 2)) as tf.Tensor2D);
}

function shapeText(value: unknown): string {
  return value instanceof tf.Tensor ? `shape [${value.shape.join(", ")}]` : String(value === null ? null : typeof value);
}
