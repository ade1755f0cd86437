// The bench workloads' sizes, shared by the worker that times them and the FLOP model that floors them
// (the PyTorch reference scripts in ../shared/bench/reference/ use the same).
export const SINUSOID = { metaBatch: 25, innerLr: 0.01, outerLr: 1e-3 };
// batchedChunkSize: tasks per batched pass of the CNN's batched rows (a second-order tape over all 32
// tasks needs more than the 2 GB the wasm backend addresses; 8 tasks peak at ~1.7 GB of tfjs tensors).
export const OMNIGLOT = { metaBatch: 32, ways: 5, shots: 1, queries: 1, innerLr: 0.4, outerLr: 1e-3, batchedChunkSize: 8 };

/** The "how cost grows" rows: omniglot-maml1 at other meta-batches and ways (the base row is meta-batch 32, 5-way). */
export const OMNIGLOT_SCALING = [
  { suffix: "-mb8", metaBatch: 8, ways: 5 },
  { suffix: "-mb128", metaBatch: 128, ways: 5 },
  { suffix: "-20way", metaBatch: 32, ways: 20 },
];

/**
 * An Omniglot workload's settings: OMNIGLOT, with the meta-batch and ways of a scaling suffix
 * (omniglot-maml1-mb8, -mb128, -20way); the workload's algorithm is the name without it.
 */
export function omniglotSettings(workload) {
  const scaling = OMNIGLOT_SCALING.find((row) => workload.endsWith(row.suffix));
  if (!scaling) return { ...OMNIGLOT, algorithm: workload };
  return { ...OMNIGLOT, metaBatch: scaling.metaBatch, ways: scaling.ways, algorithm: workload.slice(0, -scaling.suffix.length) };
}
