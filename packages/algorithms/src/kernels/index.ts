import { installFastBatchMatMul } from "./batch-mat-mul.js";
import { installFastConv2dBackpropFilter } from "./conv2d-backprop-filter.js";
import { installFastConv2dBackpropInput } from "./conv2d-backprop-input.js";
import { installIm2colConv2d } from "./conv2d-im2col.js";
import { installSharingIdentity } from "./identity.js";
import { installLeanClone } from "./lean-clone.js";
import { installFastLeadingReductions } from "./leading-reductions.js";
import { installFastMaxPoolRoute } from "./max-pool-route.js";
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
  "lean-clone": installLeanClone,
} as const;

export type FastKernelName = keyof typeof FAST_KERNELS;

let done = false;

/**
 * Installs Concord's faster kernels for the loaded tfjs backends (see each kernel's file). Called by
 * every meta-step; cheap after the first call. Exported for code that runs models outside Concord's
 * algorithms. The kernels compute the same values as the ones they replace (up to float rounding).
 * `skip` leaves some out (the benchmark's ablation runs); it only matters on the first call.
 */
export function installFastKernels(skip: readonly FastKernelName[] = []): void {
  if (done) return;
  let all = true;
  for (const [name, install] of Object.entries(FAST_KERNELS) as [FastKernelName, () => boolean][]) {
    if (!skip.includes(name) && !install()) all = false;
  }
  done = all || skip.length > 0;
}
