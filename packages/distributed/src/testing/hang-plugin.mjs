// A plug-in for the tests: the objective "hang-mse" is mean squared error on the main thread and
// blocks for ever when it runs in a worker thread, i.e. in a `concord worker`'s compute thread: a
// computation that never returns while the worker's main thread keeps renewing the chunk's lock.
import { isMainThread } from "node:worker_threads";
import * as tf from "@tensorflow/tfjs-core";

export default {
  objective: {
    "hang-mse": () => ({
      name: "hang-mse",
      loss(pred, y) {
        if (!isMainThread) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0);
        return tf.mean(tf.squaredDifference(pred, y));
      },
    }),
  },
};
