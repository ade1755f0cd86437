// Floating-point operations of one meta-iteration of each bench workload, counted from the shapes.
//
// Only multiply-adds of matMuls and convolutions are counted (2 FLOPs each); element-wise ops, batch
// norm, pooling and the outer Adam step are O(parameters + activations) and below 2% on these models.
// With F = the forward FLOPs of a set (support or query) of one task:
//   forward + backward of a loss      = 3F   (backward = two products of the forward's size: input and weight gradients)
//   first-order MAML, one inner step  = 3F_s + 3F_q
//   second-order MAML, one inner step = 3F_s + 3F_q + 6F_s   (backpropagating through the inner
//                                       step's own backward pass doubles the inner work again)
//   Reptile, k inner steps            = 3k·F_s                (the query set is not differentiated)
// per task, times the meta-batch. This is the arithmetic any implementation must do; the bench
// reports the time it takes at the machine's measured GEMM peak as the floor of each row.
import { omniglotSettings, SINUSOID } from "./bench-workloads.mjs";

const SINUSOID_SHOTS = 10; // K = 10 support and 10 query points per task
const MLP_SIZES = [1, 40, 40, 1];

/** Forward FLOPs of the MLP on `examples` inputs. */
function mlpForward(examples) {
  let flops = 0;
  for (let l = 0; l + 1 < MLP_SIZES.length; l++) flops += 2 * MLP_SIZES[l] * MLP_SIZES[l + 1];
  return flops * examples;
}

/** Forward FLOPs of MAML's 4-block CNN (3×3 'same' convs, 64 filters, 2×2 valid pools) on `images` 28×28×1 images. */
function convNetForward(images, ways, filters = 64) {
  let size = 28;
  let channels = 1;
  let flops = 0;
  for (let block = 0; block < 4; block++) {
    flops += 2 * size * size * 9 * channels * filters;
    channels = filters;
    size = Math.floor(size / 2);
  }
  flops += 2 * size * size * channels * ways;
  return flops * images;
}

/** FLOPs of one meta-iteration of a bench workload (see the header for the model). */
export function metaIterationFlops(workload) {
  if (workload.startsWith("sinusoid")) {
    const support = mlpForward(SINUSOID_SHOTS);
    const query = mlpForward(SINUSOID_SHOTS);
    const perTask = { "sinusoid-maml2": 9 * support + 3 * query, "sinusoid-maml1": 3 * support + 3 * query, "sinusoid-reptile5": 15 * support }[workload];
    return perTask * SINUSOID.metaBatch;
  }
  const { ways, shots, queries, metaBatch, algorithm } = omniglotSettings(workload);
  const support = convNetForward(ways * shots, ways);
  const query = convNetForward(ways * queries, ways);
  const perTask = { "omniglot-maml1": 3 * support + 3 * query, "omniglot-maml2": 9 * support + 3 * query }[algorithm];
  return perTask * metaBatch;
}
