// Test-only: one or more finite-difference cases per registered gradient.

import { BATCH_NORM_GRAD_KERNEL, BATCH_NORM_KERNEL, SGD_STEP_KERNEL, SOFTMAX_CROSS_ENTROPY_GRAD_KERNEL, SOFTMAX_CROSS_ENTROPY_KERNEL } from "@concord/core";
import * as tf from "@tensorflow/tfjs-core";
import { col2im3x3, im2col3x3 } from "../../kernels/im2col-3x3/contract.js";
import { type GradientCase, type InputSpec, input, signedInput } from "./check.js";

const float = (t: tf.Tensor) => tf.cast(t, "float32");
const BATCH_NORM_EPSILON = 1e-3;

export const GRADIENT_CASES: GradientCase[] = [
  // arithmetic
  { name: "add (broadcast)", family: "arithmetic", kernels: ["Add"], inputs: [input([2, 3], -1, 1, 1), input([3], -1, 1, 2)], f: (a, b) => tf.add(a!, b!) },
  {
    name: "addN",
    family: "arithmetic",
    kernels: ["AddN"],
    inputs: [input([2, 2], -1, 1, 3), input([2, 2], -1, 1, 4), input([2, 2], -1, 1, 5)],
    f: (a, b, c) => tf.addN([a!, tf.mul(b!, c!), c!]),
  },
  { name: "sub (broadcast)", family: "arithmetic", kernels: ["Sub"], inputs: [input([2, 3], -1, 1, 6), input([2, 1], -1, 1, 7)], f: (a, b) => tf.sub(a!, b!) },
  {
    name: "mul (broadcast)",
    family: "arithmetic",
    kernels: ["Multiply"],
    inputs: [input([2, 3], -1, 1, 8), input([1, 3], -1, 1, 9)],
    f: (a, b) => tf.mul(a!, b!),
  },
  {
    name: "div (broadcast)",
    family: "arithmetic",
    kernels: ["RealDiv"],
    inputs: [input([2, 3], -1, 1, 10), input([3], 0.5, 2, 11)],
    f: (a, b) => tf.div(a!, b!),
  },
  { name: "neg", family: "arithmetic", kernels: ["Neg"], inputs: [input([5], -1, 1, 12)], f: (x) => tf.neg(tf.square(x!)) },
  { name: "square", family: "arithmetic", kernels: ["Square"], inputs: [input([5], -1, 1, 13)], f: (x) => tf.square(x!) },
  {
    name: "squaredDifference (broadcast)",
    family: "arithmetic",
    kernels: ["SquaredDifference"],
    inputs: [input([2, 3], -1, 1, 14), input([3], -1, 1, 15)],
    f: (a, b) => tf.squaredDifference(a!, b!),
  },
  {
    name: "maximum",
    family: "arithmetic",
    kernels: ["Maximum", "GreaterEqual"],
    inputs: [
      { shape: [6], values: [0.1, -0.5, 0.9, -0.3, 0.4, -0.8] },
      { shape: [6], values: [0.3, -0.7, 0.5, 0.2, -0.6, -0.2] },
    ],
    f: (a, b) => tf.mul(tf.maximum(a!, b!), a!),
  },
  {
    name: "minimum (broadcast)",
    family: "arithmetic",
    kernels: ["Minimum", "LessEqual"],
    inputs: [
      { shape: [2, 3], values: [0.1, -0.5, 0.9, -0.3, 0.4, -0.8] },
      { shape: [3], values: [0.3, -0.7, 0.5] },
    ],
    f: (a, b) => tf.mul(tf.minimum(a!, b!), a!),
  },
  { name: "abs", family: "arithmetic", kernels: ["Abs", "Sign"], inputs: [signedInput([6], 0.2, 1, 16)], f: (x) => tf.mul(tf.abs(x!), x!) },
  {
    name: "pow (tensor exponent)",
    family: "arithmetic",
    kernels: ["Pow"],
    inputs: [input([4], 0.5, 2, 17), input([4], 0.5, 2.5, 18)],
    f: (a, b) => tf.pow(a!, b!),
  },
  {
    name: "pow (integer scalar exponent)",
    family: "arithmetic",
    kernels: ["Pow"],
    inputs: [signedInput([4], 0.3, 1.5, 19)],
    f: (a) => tf.pow(a!, tf.scalar(3, "int32")),
  },
  { name: "reciprocal", family: "arithmetic", kernels: ["Reciprocal"], inputs: [input([4], 0.5, 2, 20)], f: (x) => tf.reciprocal(x!) },
  {
    // Concord's fused θ − lr·g (kernels/sgd-step/); g depends on θ as in an inner step, so its gradient is used in both inputs.
    name: "sgd step (fused)",
    family: "arithmetic",
    kernels: [SGD_STEP_KERNEL],
    inputs: [input([2, 3], -1, 1, 88), input([2, 3], -1, 1, 89)],
    f: (p, g) => tf.engine().runKernel(SGD_STEP_KERNEL, { param: p!, grad: tf.mul(g!, tf.tanh(p!)) }, { lr: 0.3 }) as tf.Tensor,
  },

  // unary math and activations
  { name: "exp", family: "unary", kernels: ["Exp"], inputs: [input([5], -1, 1, 21)], f: (x) => tf.exp(x!) },
  { name: "log", family: "unary", kernels: ["Log"], inputs: [input([5], 0.5, 2, 22)], f: (x) => tf.log(x!) },
  { name: "log1p", family: "unary", kernels: ["Log1p"], inputs: [input([5], -0.5, 1, 23)], f: (x) => tf.log1p(x!) },
  { name: "sqrt", family: "unary", kernels: ["Sqrt"], inputs: [input([5], 0.5, 2, 24)], f: (x) => tf.sqrt(x!) },
  { name: "rsqrt", family: "unary", kernels: ["Rsqrt"], inputs: [input([5], 0.5, 2, 25)], f: (x) => tf.rsqrt(x!) },
  { name: "tanh", family: "unary", kernels: ["Tanh"], inputs: [input([5], -1.5, 1.5, 26)], f: (x) => tf.tanh(x!) },
  { name: "sigmoid", family: "unary", kernels: ["Sigmoid"], inputs: [input([5], -2, 2, 27)], f: (x) => tf.sigmoid(x!) },
  { name: "softplus", family: "unary", kernels: ["Softplus"], inputs: [input([5], -2, 2, 28)], f: (x) => tf.softplus(x!) },
  { name: "relu", family: "unary", kernels: ["Relu", "Step"], inputs: [signedInput([6], 0.1, 1, 29)], f: (x) => tf.mul(tf.relu(x!), x!) },
  { name: "elu", family: "unary", kernels: ["Elu", "Greater", "Minimum"], inputs: [signedInput([6], 0.1, 1.5, 30)], f: (x) => tf.elu(x!) },
  { name: "softmax (last axis)", family: "unary", kernels: ["Softmax"], inputs: [input([2, 4], -2, 2, 87)], f: (x) => tf.softmax(x!) },
  {
    name: "leakyRelu",
    family: "unary",
    kernels: ["LeakyRelu", "Greater"],
    inputs: [signedInput([6], 0.1, 1, 31)],
    f: (x) => tf.mul(tf.leakyRelu(x!, 0.2), x!),
  },

  // kernels with zero gradient, on a differentiable path
  { name: "step", family: "constant", kernels: ["Step"], inputs: [signedInput([6], 0.1, 1, 32)], f: (x) => tf.mul(tf.step(x!), tf.square(x!)) },
  { name: "sign", family: "constant", kernels: ["Sign"], inputs: [signedInput([6], 0.1, 1, 33)], f: (x) => tf.mul(tf.sign(x!), tf.square(x!)) },
  {
    name: "floor, ceil, round",
    family: "constant",
    kernels: ["Floor", "Ceil", "Round"],
    inputs: [{ shape: [4], values: [0.3, -1.2, 2.6, -0.6] }],
    f: (x) => tf.mul(tf.addN([tf.floor(x!), tf.ceil(x!), tf.round(x!)]), tf.square(x!)),
  },
  ...(
    [
      ["equal", (a: tf.Tensor, b: tf.Tensor) => tf.equal(tf.round(a), tf.round(b)), "Equal"],
      ["notEqual", (a: tf.Tensor, b: tf.Tensor) => tf.notEqual(a, b), "NotEqual"],
      ["less", (a: tf.Tensor, b: tf.Tensor) => tf.less(a, b), "Less"],
      ["lessEqual", (a: tf.Tensor, b: tf.Tensor) => tf.lessEqual(a, b), "LessEqual"],
      ["greater", (a: tf.Tensor, b: tf.Tensor) => tf.greater(a, b), "Greater"],
      ["greaterEqual", (a: tf.Tensor, b: tf.Tensor) => tf.greaterEqual(a, b), "GreaterEqual"],
      ["logicalAnd", (a: tf.Tensor, b: tf.Tensor) => tf.logicalAnd(tf.greater(a, 0), tf.greater(b, 0)), "LogicalAnd"],
      ["logicalOr", (a: tf.Tensor, b: tf.Tensor) => tf.logicalOr(tf.greater(a, 0), tf.greater(b, 0)), "LogicalOr"],
      ["logicalNot", (a: tf.Tensor, _b: tf.Tensor) => tf.logicalNot(tf.greater(a, 0)), "LogicalNot"],
    ] as const
  ).map(
    ([name, compare, kernel]): GradientCase => ({
      name,
      family: "constant",
      kernels: [kernel],
      inputs: [
        { shape: [6], values: [0.3, -0.7, 1.1, 0.2, -0.4, 2.2] },
        { shape: [6], values: [0.6, -0.9, 1.3, -0.1, 0.45, 1.6] },
      ],
      f: (a, b) => tf.add(tf.mul(float(compare(a!, b!)), tf.mul(a!, b!)), a!),
    }),
  ),
  {
    name: "isNan, isInf, isFinite",
    family: "constant",
    kernels: ["IsNan", "IsInf", "IsFinite"],
    inputs: [input([4], -1, 1, 34)],
    f: (x) => tf.mul(tf.addN([float(tf.isNaN(x!)), float(tf.isInf(x!)), float(tf.isFinite(x!))]), tf.square(x!)),
  },
  {
    name: "zerosLike, onesLike",
    family: "constant",
    kernels: ["ZerosLike", "OnesLike"],
    inputs: [input([4], -1, 1, 35)],
    f: (x) => tf.add(tf.mul(tf.onesLike(x!), tf.square(x!)), tf.zerosLike(x!)),
  },
  {
    name: "argMax + oneHot",
    family: "constant",
    kernels: ["ArgMax", "OneHot"],
    inputs: [input([3, 4], -1, 1, 36)],
    f: (x) => tf.mul(x!, tf.oneHot(tf.argMax(x!, 1), 4)),
  },
  {
    name: "argMin",
    family: "constant",
    kernels: ["ArgMin", "OneHot"],
    inputs: [input([3, 4], -1, 1, 37)],
    f: (x) => tf.mul(x!, tf.oneHot(tf.argMin(x!, 1), 4)),
  },

  // reductions
  { name: "sum (axis 1)", family: "reduction", kernels: ["Sum"], inputs: [input([3, 4], -1, 1, 38)], f: (x) => tf.sum(tf.square(x!), 1) },
  { name: "sum (all, keepDims)", family: "reduction", kernels: ["Sum"], inputs: [input([2, 3], -1, 1, 39)], f: (x) => tf.sum(x!, undefined, true) },
  { name: "mean (axis 0)", family: "reduction", kernels: ["Mean"], inputs: [input([3, 4], -1, 1, 40)], f: (x) => tf.mean(tf.square(x!), 0) },
  { name: "mean (all)", family: "reduction", kernels: ["Mean"], inputs: [input([2, 3], -1, 1, 41)], f: (x) => tf.mean(x!) },
  { name: "max (last axis)", family: "reduction", kernels: ["Max", "Equal"], inputs: [input([3, 4], -1, 1, 42)], f: (x) => tf.max(tf.mul(x!, tf.abs(x!)), -1) },
  { name: "max (all)", family: "reduction", kernels: ["Max", "Equal"], inputs: [input([2, 3], -1, 1, 43)], f: (x) => tf.max(tf.tanh(x!)) },
  { name: "min (axis 0, keepDims)", family: "reduction", kernels: ["Min", "Equal"], inputs: [input([3, 4], -1, 1, 44)], f: (x) => tf.min(tf.exp(x!), 0, true) },

  // shape and selection
  { name: "reshape", family: "shape", kernels: ["Reshape"], inputs: [input([2, 3], -1, 1, 45)], f: (x) => tf.reshape(x!, [3, 2]) },
  { name: "expandDims", family: "shape", kernels: ["ExpandDims"], inputs: [input([2, 3], -1, 1, 46)], f: (x) => tf.expandDims(x!, 1) },
  { name: "squeeze", family: "shape", kernels: ["Reshape"], inputs: [input([2, 1, 3], -1, 1, 47)], f: (x) => tf.squeeze(x!, [1]) },
  { name: "transpose", family: "shape", kernels: ["Transpose"], inputs: [input([2, 3, 4], -1, 1, 48)], f: (x) => tf.transpose(x!, [2, 0, 1]) },
  { name: "tile", family: "shape", kernels: ["Tile"], inputs: [input([2, 3], -1, 1, 49)], f: (x) => tf.tile(x!, [2, 3]) },
  { name: "broadcastTo", family: "shape", kernels: ["Tile"], inputs: [input([1, 3], -1, 1, 50)], f: (x) => tf.broadcastTo(x!, [4, 2, 3]) },
  {
    name: "concat",
    family: "shape",
    kernels: ["Concat"],
    inputs: [input([2, 1], -1, 1, 51), input([2, 3], -1, 1, 52), input([2, 2], -1, 1, 53)],
    f: (a, b, c) => tf.concat([a!, b!, c!], 1),
  },
  {
    name: "split",
    family: "shape",
    kernels: ["SplitV"],
    inputs: [input([2, 5], -1, 1, 54)],
    f: (x) => {
      const [p, q] = tf.split(x!, [2, 3], 1);
      return tf.concat([q!, tf.mul(p!, 2)], 1);
    },
  },
  { name: "slice", family: "shape", kernels: ["Slice"], inputs: [input([3, 4], -1, 1, 55)], f: (x) => tf.slice(x!, [1, 1], [2, -1]) },
  {
    name: "pad",
    family: "shape",
    kernels: ["PadV2"],
    inputs: [input([2, 3], -1, 1, 56)],
    f: (x) =>
      tf.pad(
        x!,
        [
          [1, 0],
          [0, 2],
        ],
        0.5,
      ),
  },
  { name: "stack", family: "shape", kernels: ["Pack"], inputs: [input([2, 3], -1, 1, 57), input([2, 3], -1, 1, 58)], f: (a, b) => tf.stack([a!, b!], 1) },
  {
    name: "unstack",
    family: "shape",
    kernels: ["Unpack"],
    inputs: [input([2, 3], -1, 1, 59)],
    f: (x) => {
      const [u0, u1, u2] = tf.unstack(x!, 1);
      return tf.add(tf.mul(u0!, u1!), u2!);
    },
  },
  { name: "cast", family: "shape", kernels: ["Cast"], inputs: [input([4], -1, 1, 60)], f: (x) => tf.mul(tf.cast(x!, "float32"), x!) },
  { name: "clone", family: "shape", kernels: ["Identity"], inputs: [input([4], -1, 1, 61)], f: (x) => tf.clone(x!) },
  {
    name: "gather (axis 0, repeated indices)",
    family: "shape",
    kernels: ["GatherV2", "OneHot"],
    inputs: [input([4, 3], -1, 1, 62)],
    f: (x) => tf.gather(x!, tf.tensor1d([2, 0, 2, 3], "int32"), 0),
  },
  {
    name: "gather (axis 1, 2-D indices)",
    family: "shape",
    kernels: ["GatherV2", "OneHot"],
    inputs: [input([2, 4, 2], -1, 1, 63)],
    f: (x) =>
      tf.gather(
        x!,
        tf.tensor2d(
          [
            [3, 1],
            [1, 1],
          ],
          [2, 2],
          "int32",
        ),
        1,
      ),
  },
  {
    name: "where",
    family: "shape",
    kernels: ["Select"],
    inputs: [input([2, 3], -1, 1, 64), input([2, 3], -1, 1, 65)],
    f: (a, b) =>
      tf.where(
        tf.tensor2d(
          [
            [1, 0, 1],
            [0, 0, 1],
          ],
          [2, 3],
          "bool",
        ),
        tf.square(a!),
        tf.mul(a!, b!),
      ),
  },
  {
    name: "clipByValue",
    family: "shape",
    kernels: ["ClipByValue", "LogicalAnd", "GreaterEqual", "LessEqual"],
    inputs: [{ shape: [6], values: [-0.9, -0.3, 0.1, 0.45, 0.7, -0.6] }],
    f: (x) => tf.mul(tf.clipByValue(x!, -0.5, 0.5), x!),
  },

  // matMul
  { name: "matMul", family: "matmul", kernels: ["BatchMatMul"], inputs: [input([3, 4], -1, 1, 66), input([4, 2], -1, 1, 67)], f: (a, b) => tf.matMul(a!, b!) },
  {
    name: "matMul (aᵀ)",
    family: "matmul",
    kernels: ["BatchMatMul"],
    inputs: [input([4, 3], -1, 1, 68), input([4, 2], -1, 1, 69)],
    f: (a, b) => tf.matMul(a!, b!, true, false),
  },
  {
    name: "matMul (bᵀ)",
    family: "matmul",
    kernels: ["BatchMatMul"],
    inputs: [input([3, 4], -1, 1, 70), input([2, 4], -1, 1, 71)],
    f: (a, b) => tf.matMul(a!, b!, false, true),
  },
  {
    name: "matMul (aᵀ bᵀ)",
    family: "matmul",
    kernels: ["BatchMatMul"],
    inputs: [input([4, 3], -1, 1, 72), input([2, 4], -1, 1, 73)],
    f: (a, b) => tf.matMul(a!, b!, true, true),
  },
  {
    name: "matMul (batched rank 3)",
    family: "matmul",
    kernels: ["BatchMatMul"],
    inputs: [input([2, 3, 4], -1, 1, 74), input([2, 4, 2], -1, 1, 75)],
    f: (a, b) => tf.matMul(a!, b!),
  },
  {
    name: "matMul (broadcast batch)",
    family: "matmul",
    kernels: ["BatchMatMul"],
    inputs: [input([3, 4], -1, 1, 76), input([2, 4, 2], -1, 1, 77)],
    f: (a, b) => tf.matMul(a!, b!),
  },

  // convolution and pooling
  {
    name: "conv2d same",
    family: "conv",
    kernels: ["Conv2D", "Conv2DBackpropInput", "ConcordConv2DBackpropFilter"],
    inputs: [input([2, 4, 4, 2], -1, 1, 78), input([3, 3, 2, 2], -1, 1, 79)],
    f: (x, w) => tf.conv2d(x as tf.Tensor4D, w as tf.Tensor4D, 1, "same"),
  },
  {
    name: "conv2d valid",
    family: "conv",
    kernels: ["Conv2D", "Conv2DBackpropInput", "ConcordConv2DBackpropFilter"],
    inputs: [input([1, 5, 4, 2], -1, 1, 80), input([2, 3, 2, 3], -1, 1, 81)],
    f: (x, w) => tf.conv2d(x as tf.Tensor4D, w as tf.Tensor4D, 1, "valid"),
  },
  {
    name: "conv2dTranspose",
    family: "conv",
    kernels: ["Conv2DBackpropInput", "Conv2D"],
    inputs: [input([1, 3, 3, 2], -1, 1, 82), input([3, 3, 3, 2], -1, 1, 83)],
    f: (dy, w) => tf.conv2dTranspose(dy as tf.Tensor4D, w as tf.Tensor4D, [1, 3, 3, 3], 1, "same"),
  },
  {
    name: "maxPool 2x2 valid",
    family: "conv",
    kernels: ["MaxPool", "ConcordMaxPoolRoute", "ConcordMaxPoolGather"],
    inputs: [input([1, 4, 4, 2], -1, 1, 84)],
    f: (x) => tf.maxPool(tf.exp(x!) as tf.Tensor4D, 2, 2, "valid"),
  },
  {
    name: "maxPool 2x2 same (padded)",
    family: "conv",
    kernels: ["MaxPool", "ConcordMaxPoolRoute", "ConcordMaxPoolGather"],
    inputs: [input([1, 5, 3, 1], -1, 1, 85)],
    f: (x) => tf.maxPool(tf.tanh(x!) as tf.Tensor4D, 2, 2, "same"),
  },
  {
    name: "maxPool 2x2 valid (odd size, cropped)",
    family: "conv",
    kernels: ["MaxPool"],
    inputs: [input([1, 5, 5, 1], -1, 1, 86)],
    f: (x) => tf.maxPool(x as tf.Tensor4D, 2, 2, "valid"),
  },

  // fused batch norm (+ ReLU): with ReLU, offsets keep every γx̂ + β at least 0.1 from the kink
  {
    name: "batchNorm fused, relu",
    family: "batch-norm",
    kernels: [BATCH_NORM_KERNEL, BATCH_NORM_GRAD_KERNEL],
    inputs: batchNormInputs([2, 3, 3, 2], [0.8, -1.3], 90),
    f: (x, g, b) => fusedBatchNorm(x!, g!, b!, true),
  },
  {
    name: "batchNorm fused, no relu",
    family: "batch-norm",
    kernels: [BATCH_NORM_KERNEL, BATCH_NORM_GRAD_KERNEL],
    inputs: batchNormInputs([1, 4, 2, 3], [1.1, -0.6, 0.4], 91),
    f: (x, g, b) => fusedBatchNorm(x!, g!, b!, false),
  },
  {
    name: "batchNorm fused, relu, x only (γ, β constant)",
    family: "batch-norm",
    kernels: [BATCH_NORM_KERNEL, BATCH_NORM_GRAD_KERNEL],
    inputs: batchNormInputs([3, 2, 2, 2], [0.7, 1.2], 92).slice(0, 1),
    f: (x) => fusedBatchNorm(x!, tf.tensor([0.7, 1.2]), tf.tensor(batchNormInputs([3, 2, 2, 2], [0.7, 1.2], 92)[2]!.values), true),
  },
  {
    name: "batchNorm backward kernel (dx, dγ, dβ), relu",
    family: "batch-norm",
    kernels: [BATCH_NORM_GRAD_KERNEL],
    inputs: [...batchNormInputs([2, 2, 3, 2], [0.9, -1.1], 93), input([2, 2, 3, 2], -1, 1, 94)],
    f: (x, g, b, dy) => {
      const [dx, dScale, dOffset] = fusedBatchNormGrad(x!, g!, b!, dy!, true) as [tf.Tensor, tf.Tensor, tf.Tensor];
      return tf.concat([tf.reshape(dx, [-1]), dScale, dOffset]);
    },
  },
  {
    name: "batchNorm backward kernel, dx only, no relu",
    family: "batch-norm",
    kernels: [BATCH_NORM_GRAD_KERNEL],
    inputs: [...batchNormInputs([1, 3, 3, 2], [1.3, 0.5], 95), input([1, 3, 3, 2], -1, 1, 96)],
    f: (x, g, b, dy) => fusedBatchNormGrad(x!, g!, b!, dy!, false)[0]!,
  },
  // softmax cross-entropy per example and its gradient kernel (labels are int32 constants)
  {
    name: "softmax cross-entropy kernel, [3, 4] logits",
    family: "cross-entropy",
    kernels: [SOFTMAX_CROSS_ENTROPY_KERNEL, SOFTMAX_CROSS_ENTROPY_GRAD_KERNEL],
    inputs: [input([3, 4], -2, 2, 97)],
    f: (z) => crossEntropy(z!, tf.tensor1d([2, 0, 3], "int32")),
  },
  {
    name: "softmax cross-entropy kernel, [2, 2, 3] logits (a task axis)",
    family: "cross-entropy",
    kernels: [SOFTMAX_CROSS_ENTROPY_KERNEL, SOFTMAX_CROSS_ENTROPY_GRAD_KERNEL],
    inputs: [input([2, 2, 3], -3, 3, 98)],
    f: (z) => crossEntropy(z!, tf.tensor2d([1, 2, 0, 1], [2, 2], "int32")),
  },
  {
    name: "softmax cross-entropy gradient kernel (logits and dy)",
    family: "cross-entropy",
    kernels: [SOFTMAX_CROSS_ENTROPY_GRAD_KERNEL],
    inputs: [input([2, 5], -2, 2, 99), input([2], 0.5, 2, 100)],
    f: (z, dy) => tf.engine().runKernel(SOFTMAX_CROSS_ENTROPY_GRAD_KERNEL, { logits: z!, labels: tf.tensor1d([4, 1], "int32"), dy: dy! }) as tf.Tensor,
  },
  // im2col is linear: squared so that its second-order terms are not all zero; col2im of patches that depend on x.
  {
    name: "im2col 3x3 (and col2im, its gradient)",
    family: "conv",
    kernels: ["ConcordIm2Col3x3", "ConcordCol2Im3x3"],
    inputs: [input([2, 3, 4, 2], -1, 1, 88)],
    f: (x) => tf.square(im2col3x3(x!)),
  },
  {
    name: "col2im 3x3 (and im2col, its gradient)",
    family: "conv",
    kernels: ["ConcordCol2Im3x3", "ConcordIm2Col3x3"],
    inputs: [input([1, 4, 3, 18], -1, 1, 89)],
    f: (p) => tf.square(col2im3x3(p!)),
  },
];

function crossEntropy(logits: tf.Tensor, labels: tf.Tensor): tf.Tensor {
  return tf.engine().runKernel(SOFTMAX_CROSS_ENTROPY_KERNEL, { logits, labels }) as tf.Tensor;
}

function fusedBatchNorm(x: tf.Tensor, scale: tf.Tensor, offset: tf.Tensor, relu: boolean): tf.Tensor {
  return tf.engine().runKernel(BATCH_NORM_KERNEL, { x, scale, offset }, { epsilon: BATCH_NORM_EPSILON, relu }) as tf.Tensor;
}

function fusedBatchNormGrad(x: tf.Tensor, scale: tf.Tensor, offset: tf.Tensor, dy: tf.Tensor, relu: boolean): tf.Tensor[] {
  return tf.engine().runKernel(BATCH_NORM_GRAD_KERNEL, { x, scale, offset, dy }, { epsilon: BATCH_NORM_EPSILON, relu }) as unknown as tf.Tensor[];
}

/**
 * x (NHWC, spread in [−1, 1]), the given scales, and per-channel offsets halfway between two
 * neighbouring values of γ·x̂ (float64), so that every γx̂ + β is far from the ReLU's kink.
 */
function batchNormInputs(shape: number[], scale: number[], seed: number): [InputSpec, InputSpec, InputSpec] {
  const x = input(shape, -1, 1, seed);
  const channels = scale.length;
  const offset = scale.map((gamma, c) => {
    const column = x.values.filter((_, i) => i % channels === c);
    const mu = column.reduce((a, v) => a + v, 0) / column.length;
    const s = 1 / Math.sqrt(column.reduce((a, v) => a + (v - mu) ** 2, 0) / column.length + BATCH_NORM_EPSILON);
    const z = column.map((v) => gamma * (v - mu) * s).sort((a, b) => a - b);
    // The widest gap among the middle values, so that about half the outputs are positive.
    let best = Math.floor(z.length / 2);
    for (let i = Math.floor(z.length / 4); i < Math.ceil((3 * z.length) / 4) - 1; i++) if (z[i + 1]! - z[i]! > z[best + 1]! - z[best]!) best = i;
    return -(z[best]! + z[best + 1]!) / 2;
  });
  return [x, { shape: [channels], values: scale }, { shape: [channels], values: offset }];
}
