// Gradients of the kernels that move, copy or select values without arithmetic. Each gradient is
// again such a kernel (reshape ↔ reshape, slice ↔ pad, concat ↔ split, pack ↔ unpack, tile → sum,
// gather → one-hot matMul), so the set stays closed under differentiation.
import * as tf from "@tensorflow/tfjs-core";
import type { GradConfig } from "@tensorflow/tfjs-core";
import { numbers, oneHotFloat, saved, several, single, zeroGradient } from "./util.js";

/** Undoes a gather along `axis` (batchDims 0): dx[j] = Σ_k [indices_k = j] dy[k], as a matMul. */
function scatterAdd(dy: tf.Tensor, indices: tf.Tensor, xShape: number[], axis: number): tf.Tensor {
  const outer = xShape.slice(0, axis).reduce((n, d) => n * d, 1);
  const inner = xShape.slice(axis + 1).reduce((n, d) => n * d, 1);
  const rows = xShape[axis] ?? 1;
  const count = indices.size;
  // dy: outer × indices × inner → indices × (outer·inner), so one matMul scatters every slice.
  const byIndex = tf.reshape(tf.transpose(tf.reshape(dy, [outer, count, inner]), [1, 0, 2]), [count, outer * inner]);
  const selector = oneHotFloat(tf.reshape(indices, [count]), rows);
  const summed = tf.matMul(selector, byIndex, true, false); // rows × (outer·inner)
  return tf.reshape(tf.transpose(tf.reshape(summed, [rows, outer, inner]), [1, 0, 2]), xShape);
}

export const shapeGradients: GradConfig[] = [
  {
    kernelName: "Reshape",
    inputsToSave: ["x"],
    gradFunc: (dy, s) => ({ x: () => tf.reshape(single(dy), saved(s, 0).shape) }),
  },
  {
    kernelName: "ExpandDims",
    inputsToSave: ["input"],
    gradFunc: (dy, s) => ({ input: () => tf.reshape(single(dy), saved(s, 0).shape) }),
  },
  {
    kernelName: "Transpose",
    gradFunc: (dy, _s, attrs) => {
      const perm = numbers(attrs["perm"]);
      return { x: () => tf.transpose(single(dy), tf.backend_util.getUndoAxesPermutation(perm)) };
    },
  },
  {
    // Tile x by reps: view dy as [r0, s0, r1, s1, ...] and sum over the repetition axes.
    kernelName: "Tile",
    inputsToSave: ["x"],
    gradFunc: (dy, s, attrs) => {
      const x = saved(s, 0);
      const reps = numbers(attrs["reps"]);
      return {
        x: () => {
          const split: number[] = [];
          const repAxes: number[] = [];
          x.shape.forEach((size, i) => {
            const r = reps[i] ?? 1;
            if (r > 1) {
              repAxes.push(split.length);
              split.push(r);
            }
            split.push(size);
          });
          const viewed = tf.reshape(single(dy), split);
          return tf.reshape(repAxes.length > 0 ? tf.sum(viewed, repAxes) : viewed, x.shape);
        },
      };
    },
  },
  {
    kernelName: "Concat",
    saveAllInputs: true,
    gradFunc: (dy, s, attrs) => {
      const first = saved(s, 0);
      const axis = tf.util.parseAxisParam(attrs["axis"] as number, first.shape)[0] ?? 0;
      const sizes = s.map((t) => t.shape[axis] ?? 0);
      const g = single(dy);
      // Split lazily: each closure is called only for inputs on the differentiation path.
      return Object.fromEntries(
        s.map((t, i) => {
          const begin = t.shape.map(() => 0);
          begin[axis] = sizes.slice(0, i).reduce((a, b) => a + b, 0);
          return [String(i), () => tf.slice(g, begin, t.shape)];
        }),
      );
    },
  },
  {
    kernelName: "SplitV",
    gradFunc: (dy, _s, attrs) => ({ x: () => tf.concat(several(dy), attrs["axis"] as number) }),
  },
  {
    kernelName: "Slice",
    inputsToSave: ["x"],
    gradFunc: (dy, s, attrs) => {
      const x = saved(s, 0);
      const [begin = [], size = []] = tf.slice_util.parseSliceParams(x, attrs["begin"] as number[], attrs["size"] as number[]);
      const paddings = x.shape.map((dim, i): [number, number] => [begin[i] ?? 0, dim - (begin[i] ?? 0) - (size[i] ?? 0)]);
      return { x: () => tf.pad(single(dy), paddings) };
    },
  },
  {
    kernelName: "PadV2",
    inputsToSave: ["x"],
    gradFunc: (dy, s, attrs) => {
      const x = saved(s, 0);
      const paddings = attrs["paddings"] as Array<[number, number]>;
      return {
        x: () =>
          tf.slice(
            single(dy),
            paddings.map((p) => p[0]),
            x.shape,
          ),
      };
    },
  },
  {
    kernelName: "Pack",
    saveAllInputs: true,
    gradFunc: (dy, s, attrs) => {
      const g = single(dy);
      const axis = attrs["axis"] as number;
      const rank = g.rank;
      const normalized = axis < 0 ? axis + rank : axis;
      return Object.fromEntries(
        s.map((t, i) => {
          const begin = g.shape.map(() => 0);
          begin[normalized] = i;
          const size = g.shape.slice();
          size[normalized] = 1;
          return [String(i), () => tf.reshape(tf.slice(g, begin, size), t.shape)];
        }),
      );
    },
  },
  {
    kernelName: "Unpack",
    gradFunc: (dy, _s, attrs) => ({ value: () => tf.stack(several(dy), attrs["axis"] as number) }),
  },
  {
    kernelName: "Cast",
    gradFunc: (dy) => ({ x: () => tf.clone(single(dy)) }),
  },
  {
    kernelName: "Identity",
    gradFunc: (dy) => ({ x: () => tf.clone(single(dy)) }),
  },
  {
    kernelName: "GatherV2",
    inputsToSave: ["x", "indices"],
    gradFunc: (dy, s, attrs) => {
      const x = saved(s, 0);
      const indices = saved(s, 1);
      if (Number(attrs["batchDims"] ?? 0) !== 0) {
        throw new Error("Concord gradient: gather with batchDims > 0 is not differentiable here");
      }
      const axis = tf.util.parseAxisParam(attrs["axis"] as number, x.shape)[0] ?? 0;
      return {
        x: () => scatterAdd(single(dy), indices, x.shape, axis),
        indices: () => zeroGradient(indices.shape),
      };
    },
  },
  {
    kernelName: "Select",
    inputsToSave: ["condition"],
    gradFunc: (dy, s) => {
      const condition = saved(s, 0);
      const g = single(dy);
      return {
        condition: () => zeroGradient(condition.shape),
        t: () => tf.where(condition, g, tf.zerosLike(g)),
        e: () => tf.where(condition, tf.zerosLike(g), g),
      };
    },
  },
  {
    kernelName: "ClipByValue",
    inputsToSave: ["x"],
    gradFunc: (dy, s, attrs) => {
      const x = saved(s, 0);
      const g = single(dy);
      const low = Number(attrs["clipValueMin"]);
      const high = Number(attrs["clipValueMax"]);
      return {
        x: () => tf.where(tf.logicalAnd(tf.greaterEqual(x, low), tf.lessEqual(x, high)), g, tf.zerosLike(g)),
      };
    },
  },
];
