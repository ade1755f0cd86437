// Kernels whose output is piecewise constant in their inputs (comparisons, masks, indices,
// rounding) or does not depend on their values (zerosLike, onesLike): the gradient is zero.
// Registering them matters: a higher-order tape walks through the masks that first-order
// gradients build (Relu's step, Max's equality mask), and would otherwise throw.
import type { GradConfig } from "@tensorflow/tfjs-core";
import { single, zeroGradient } from "./util.js";

function zeroGradientFor(kernelName: string, inputNames: string[]): GradConfig {
  return {
    kernelName,
    inputsToSave: inputNames,
    gradFunc: (_dy, saved) => Object.fromEntries(inputNames.map((name, i) => [name, () => zeroGradient(saved[i]?.shape ?? [])])),
  };
}

const BINARY = ["Equal", "NotEqual", "Less", "LessEqual", "Greater", "GreaterEqual", "LogicalAnd", "LogicalOr"];
const ELEMENTWISE = ["Step", "Sign", "Floor", "Ceil", "Round", "LogicalNot", "IsNan", "IsInf", "IsFinite", "ZerosLike", "OnesLike"];

/** Output shape equals input shape, so nothing needs saving (Step runs in every Relu gradient). */
function elementwiseZeroGradient(kernelName: string): GradConfig {
  return {
    kernelName,
    gradFunc: (dy) => ({ x: () => zeroGradient(single(dy).shape) }),
  };
}

export const constantGradients: GradConfig[] = [
  ...BINARY.map((name) => zeroGradientFor(name, ["a", "b"])),
  ...ELEMENTWISE.map(elementwiseZeroGradient),
  zeroGradientFor("ArgMax", ["x"]),
  zeroGradientFor("ArgMin", ["x"]),
  zeroGradientFor("OneHot", ["indices"]),
];
