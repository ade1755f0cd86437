import { installFastBatchMatMul } from "./batch-mat-mul.js";
import { installFusedBatchNorm } from "./batch-norm.js";
import { installFastConv2dBackpropFilter } from "./conv2d-backprop-filter.js";
import { installFastConv2dBackpropInput } from "./conv2d-backprop-input.js";
import { installIm2colConv2d } from "./conv2d-im2col.js";
import { installDirectBinaryKernels } from "./direct-binary.js";
import { installSharingIdentity } from "./identity.js";
import { installFastIm2col3x3 } from "./im2col-3x3.js";
import { installFastLeadingReductions } from "./leading-reductions.js";
import { installLeanClone } from "./lean-clone.js";
import { installLeanEndScope } from "./lean-end-scope.js";
import { installLeanGradients } from "./lean-gradients.js";
import { installLeanRunKernel } from "./lean-run-kernel.js";
import { installFastMaxPoolRoute } from "./max-pool-route.js";
import { installFastPack } from "./pack.js";
import { installFastTile } from "./tile.js";

/**
 * Concord's kernel replacements, in installation order (the im2col Conv2D calls the BatchMatMul
 * installed before it; the input gradient calls the Conv2D installed before it).
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
  "lean-clone": installLeanClone,
  "batch-norm": installFusedBatchNorm,
  "lean-gradients": installLeanGradients,
  "lean-end-scope": installLeanEndScope,
  "lean-run-kernel": installLeanRunKernel,
} as const;

export type FastKernelName = keyof typeof FAST_KERNELS;

/**
 * Installs Concord's faster kernels for the tfjs backends loaded in this process (see each kernel's
 * file) and returns the names of those that are installed. Idempotent and cheap to call again:
 * call it after loading another backend. The kernels compute the same values as the ones they
 * replace (up to float rounding). `skip` leaves some out (the benchmark's ablation runs); a kernel
 * already installed stays installed. uninstallConcord() removes them.
 */
export function installFastKernels(skip: readonly FastKernelName[] = []): FastKernelName[] {
  const installed: FastKernelName[] = [];
  for (const [name, install] of Object.entries(FAST_KERNELS) as [FastKernelName, () => boolean][]) {
    if (!skip.includes(name) && install()) installed.push(name);
  }
  return installed;
}
