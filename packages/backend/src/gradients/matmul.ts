// Gradient of BatchMatMul, the kernel behind every tf.matMul (rank 2 and batched rank ≥ 3).
import * as tf from "@tensorflow/tfjs-core";
import type { GradConfig } from "@tensorflow/tfjs-core";
import { saved, single, unbroadcast } from "./util.js";

export const matMulGradients: GradConfig[] = [
  {
    // C = op(A)·op(B). The products are matMuls again, and broadcast batch axes are summed back.
    kernelName: "BatchMatMul",
    inputsToSave: ["a", "b"],
    gradFunc: (dy, s, attrs) => {
      const g = single(dy);
      const a = saved(s, 0);
      const b = saved(s, 1);
      const transposeA = Boolean(attrs["transposeA"]);
      const transposeB = Boolean(attrs["transposeB"]);
      let gradA: () => tf.Tensor;
      let gradB: () => tf.Tensor;
      if (!transposeA && !transposeB) {
        gradA = () => tf.matMul(g, b, false, true);
        gradB = () => tf.matMul(a, g, true, false);
      } else if (!transposeA && transposeB) {
        gradA = () => tf.matMul(g, b, false, false);
        gradB = () => tf.matMul(g, a, true, false);
      } else if (transposeA && !transposeB) {
        gradA = () => tf.matMul(b, g, false, true);
        gradB = () => tf.matMul(a, g, false, false);
      } else {
        gradA = () => tf.matMul(b, g, true, true);
        gradB = () => tf.matMul(g, a, true, true);
      }
      return { a: () => unbroadcast(gradA(), a.shape), b: () => unbroadcast(gradB(), b.shape) };
    },
  },
];
