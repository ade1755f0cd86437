// The bench workloads' sizes, shared by the worker that times them and the FLOP model that floors them
// (the PyTorch reference scripts in ../shared/bench/reference/ use the same).
export const SINUSOID = { metaBatch: 25, innerLr: 0.01, outerLr: 1e-3 };
// batchedChunkSize: tasks per batched pass of the CNN's batched rows (a second-order tape over all 32
// tasks needs more than the 2 GB the wasm backend addresses; 8 tasks peak at ~1.7 GB of tfjs tensors).
export const OMNIGLOT = { metaBatch: 32, ways: 5, shots: 1, queries: 1, innerLr: 0.4, outerLr: 1e-3, batchedChunkSize: 8 };
