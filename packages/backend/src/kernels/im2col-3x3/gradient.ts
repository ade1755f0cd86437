// The gradients of ConcordIm2Col3x3 and ConcordCol2Im3x3 (contract.ts): each is the other (adjoints).
import type { GradConfig } from "@tensorflow/tfjs-core";
import { single } from "../../gradients/util.js";
import { COL2IM_3X3_KERNEL, col2im3x3, IM2COL_3X3_KERNEL, im2col3x3 } from "./contract.js";

export const im2col3x3Gradients: GradConfig[] = [
  { kernelName: IM2COL_3X3_KERNEL, gradFunc: (dy) => ({ x: () => col2im3x3(single(dy)) }) },
  { kernelName: COL2IM_3X3_KERNEL, gradFunc: (dy) => ({ patches: () => im2col3x3(single(dy)) }) },
];
