// A plug-in for the tests: the objective "poison-mse" is mean squared error on the main thread and
// kills its whole process (SIGKILL, as the kernel's OOM killer does) when it runs in a worker thread,
// i.e. in a `concord worker`'s training or compute thread: a poison job.
import { isMainThread } from "node:worker_threads";
import * as tf from "@tensorflow/tfjs-core";

export default {
  objective: {
    "poison-mse": () => ({
      name: "poison-mse",
      loss(pred, y) {
        if (!isMainThread) process.kill(process.pid, "SIGKILL");
        return tf.mean(tf.squaredDifference(pred, y));
      },
    }),
  },
};
