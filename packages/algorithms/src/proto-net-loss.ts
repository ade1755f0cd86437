import * as tf from "@tensorflow/tfjs-core";
import { type Batch, ConcordError, type Model, type Objective, type Params } from "@concord/core";
import { classPrototypes, prototypeLogits } from "@concord/models";

/**
 * A model whose batch-norm layers take their statistics from the support set (convNet with
 * batchNorm "support"): `batchNormStatistics(params, support)` feeds `forward`'s third argument.
 */
export interface SupportStatisticsModel extends Model {
  readonly batchNorm: "support";
  batchNormStatistics(params: Params, support: tf.Tensor): unknown;
  forward(params: Params, x: tf.Tensor, statistics?: unknown): tf.Tensor;
}

/** True for a model that normalises with the support set's statistics (see SupportStatisticsModel). */
export function usesSupportStatistics(model: Model): model is SupportStatisticsModel {
  const candidate = model as Partial<SupportStatisticsModel>;
  return candidate.batchNorm === "support" && typeof candidate.batchNormStatistics === "function";
}

/**
 * The embeddings of a task's support and query images. A model with support statistics normalises
 * both with the support set's moments (a query image's embedding then depends on no other query);
 * any other model embeds support and query as one batch, as Snell et al.'s code does (for
 * transductive batch norm: the moments of the whole episode).
 */
export function embedTask(model: Model, params: Params, support: tf.Tensor, query: tf.Tensor): { support: tf.Tensor2D; query: tf.Tensor2D } {
  return tf.tidy(() => {
    let supportEmbedding: tf.Tensor;
    let queryEmbedding: tf.Tensor;
    if (usesSupportStatistics(model)) {
      const statistics = model.batchNormStatistics(params, support);
      supportEmbedding = model.forward(params, support, statistics);
      queryEmbedding = model.forward(params, query, statistics);
    } else {
      const both = model.forward(params, tf.concat([support, query]));
      const count = support.shape[0]!;
      supportEmbedding = tf.slice(both, [0], [count]);
      queryEmbedding = tf.slice(both, [count], [both.shape[0]! - count]);
    }
    if (supportEmbedding.rank !== 2) {
      throw new ConcordError(`expected model '${model.name}' to return embeddings [K, D], got shape [${supportEmbedding.shape.join(", ")}]`, {
        field: "model",
      });
    }
    return { support: supportEmbedding as tf.Tensor2D, query: queryEmbedding as tf.Tensor2D };
  });
}

/**
 * The number of classes of a task: 1 + the largest support label (labels are 0..N−1; classPrototypes
 * then checks that every one has a support example).
 */
export function taskClassCount(support: Batch, field = "support.y"): number {
  const labels = support.y.dataSync();
  if (labels.length === 0) throw new ConcordError("expected at least one support example", { field });
  let largest = 0;
  for (const label of labels) largest = Math.max(largest, label);
  if (!Number.isInteger(largest) || largest < 0) throw new ConcordError(`expected integer class labels >= 0, got ${largest}`, { field });
  return largest + 1;
}

/**
 * A task's prototype logits for its query set: z_qk = −‖f_θ(x_q) − c_k‖² with c_k the mean support
 * embedding of class k (Snell et al. 2017, eq. 1–2). [Q, N].
 */
export function prototypeTaskLogits(model: Model, params: Params, support: Batch, queryX: tf.Tensor): tf.Tensor2D {
  const classes = taskClassCount(support);
  return tf.tidy(() => {
    const embedded = embedTask(model, params, support.x, queryX);
    return prototypeLogits(embedded.query, classPrototypes(embedded.support, support.y, classes));
  });
}

/** L(θ) = objective(z, y_query) on the prototype logits: cross-entropy gives Snell et al.'s loss, eq. 2–3. */
export function prototypeTaskLoss(model: Model, objective: Objective, params: Params, support: Batch, query: Batch): tf.Scalar {
  return tf.tidy(() => objective.loss(prototypeTaskLogits(model, params, support, query.x), query.y));
}
