import { installFastBatchMatMul } from "./batch-mat-mul.js";
import { installFastConv2dBackpropFilter } from "./conv2d-backprop-filter.js";
import { installFastConv2dBackpropInput } from "./conv2d-backprop-input.js";
import { installIm2colConv2d } from "./conv2d-im2col.js";
import { installSharingIdentity } from "./identity.js";
import { installFastLeadingReductions } from "./leading-reductions.js";
import { installFastMaxPoolRoute } from "./max-pool-route.js";
import { installFastTile } from "./tile.js";

let done = false;

/**
 * Installs Concord's faster kernels for the loaded tfjs backends (see each kernel's file). Called by
 * every meta-step; cheap after the first call. Exported for code that runs models outside Concord's
 * algorithms. The kernels compute the same values as the ones they replace (up to float rounding).
 */
export function installFastKernels(): void {
  if (done) return;
  const matMul = installFastBatchMatMul();
  const tile = installFastTile();
  // Order matters: the im2col Conv2D uses the (fast) BatchMatMul, the input gradient the (im2col) Conv2D.
  const convolution = installIm2colConv2d() && installFastConv2dBackpropInput() && installFastConv2dBackpropFilter();
  const reductions = installFastLeadingReductions();
  const identity = installSharingIdentity();
  const pooling = installFastMaxPoolRoute();
  done = matMul && tile && convolution && reductions && identity && pooling;
}
