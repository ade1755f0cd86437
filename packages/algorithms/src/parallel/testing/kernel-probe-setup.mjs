// TaskPool setup module of task-pool-skip-kernels.test.ts: refuses to start unless the worker's
// Concord install matches the creator's (whether its softmax cross-entropy kernel is registered).
import * as tf from "@tensorflow/tfjs-core";
import { SOFTMAX_CROSS_ENTROPY_KERNEL } from "@concord/core";
import { meanSquaredError, mlp } from "@concord/models";
import { sgd } from "@concord/optimizers";

export function createTaskSetup({ expectCrossEntropyKernel }) {
  const registered = tf.getKernel(SOFTMAX_CROSS_ENTROPY_KERNEL, tf.getBackend()) !== undefined;
  if (registered !== expectCrossEntropyKernel) {
    throw new Error(`worker: cross-entropy kernel registered = ${registered}, expected ${expectCrossEntropyKernel}`);
  }
  return { model: mlp({ sizes: [1, 1] }), objective: meanSquaredError(), innerOptimizer: sgd({ lr: 0.1 }) };
}
