import { ENGINE_PATCHES, type EnginePatchName } from "../engine-patches/index.js";
import { installFastBatchMatMul } from "./batch-mat-mul/fast.js";
import { installBatchNormGradGrad, installFusedBatchNorm } from "./batch-norm/fast.js";
import { installSoftmaxCrossEntropy } from "./cross-entropy/fast.js";
import { installFastConv2dBackpropFilter } from "./conv2d-backprop-filter/fast.js";
import { installFastConv2dBackpropInput } from "./conv2d-backprop-input/fast.js";
import { installIm2colConv2d } from "./conv2d-im2col/fast.js";
import { installDirectBinaryKernels } from "./direct-binary/fast.js";
import { installSharingIdentity } from "./identity/fast.js";
import { installFastIm2col3x3 } from "./im2col-3x3/fast.js";
import { installFastLeadingReductions } from "./leading-reductions/fast.js";
import { installFastMaxPoolRoute } from "./max-pool-route/fast.js";
import { installFastPack } from "./pack/fast.js";
import { installFastTile } from "./tile/fast.js";

/**
 * Concord's kernel replacements, in installation order: each registers a kernel (one of tfjs's, or
 * one of Concord's own) that computes what the kernel it replaces computes, bit for bit or up to
 * float rounding (see its folder). Order matters: the im2col Conv2D calls the BatchMatMul installed
 * before it; the input gradient calls the Conv2D installed before it.
 */
export const FAST_KERNELS = {
  "batch-mat-mul": installFastBatchMatMul,
  tile: installFastTile,
  "conv2d-im2col": installIm2colConv2d,
  "conv2d-backprop-input": installFastConv2dBackpropInput,
  "conv2d-backprop-filter": installFastConv2dBackpropFilter,
  "leading-reductions": installFastLeadingReductions,
  identity: installSharingIdentity,
  "max-pool-route": installFastMaxPoolRoute,
  "im2col-3x3": installFastIm2col3x3,
  pack: installFastPack,
  "direct-binary": installDirectBinaryKernels,
  "batch-norm": installFusedBatchNorm,
  "batch-norm-grad-grad": installBatchNormGradGrad,
  "cross-entropy": installSoftmaxCrossEntropy,
} as const;

export type KernelReplacementName = keyof typeof FAST_KERNELS;

/** A name installFastKernels() installs or leaves out: a kernel replacement or an engine patch. */
export type FastKernelName = KernelReplacementName | EnginePatchName;

/**
 * Every name of FAST_KERNELS and ENGINE_PATCHES, in the order installFastKernels() installs them
 * (each list keeps its own order here). The two kinds do not depend on each other; lean-clone sits
 * among the kernels only because it always has (the order of Installation.fastKernels and of the
 * benchmark's ablation rows).
 */
export const INSTALL_ORDER: readonly FastKernelName[] = [
  "batch-mat-mul",
  "tile",
  "conv2d-im2col",
  "conv2d-backprop-input",
  "conv2d-backprop-filter",
  "leading-reductions",
  "identity",
  "max-pool-route",
  "im2col-3x3",
  "pack",
  "direct-binary",
  "lean-clone",
  "batch-norm",
  "batch-norm-grad-grad",
  "cross-entropy",
  "lean-gradients",
  "lean-end-scope",
  "lean-run-kernel",
];

const INSTALLERS: Readonly<Record<FastKernelName, () => boolean>> = { ...FAST_KERNELS, ...ENGINE_PATCHES };

/**
 * Installs Concord's kernel replacements and engine patches for the tfjs backends loaded in this
 * process, in INSTALL_ORDER, and returns the names of those that are installed. Idempotent and cheap
 * to call again: call it after loading another backend. `skip` leaves some out (the benchmark's
 * ablation runs); one already installed stays installed. uninstallConcord() removes them.
 */
export function installFastKernels(skip: readonly FastKernelName[] = []): FastKernelName[] {
  const installed: FastKernelName[] = [];
  for (const name of INSTALL_ORDER) {
    if (!skip.includes(name) && INSTALLERS[name]()) installed.push(name);
  }
  return installed;
}
