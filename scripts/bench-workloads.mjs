// The bench workloads' sizes, shared by the worker that times them and the FLOP model that floors them
// (the PyTorch reference scripts in ../shared/bench/reference/ use the same).
export const SINUSOID = { metaBatch: 25, innerLr: 0.01, outerLr: 1e-3 };
export const OMNIGLOT = { metaBatch: 32, ways: 5, shots: 1, queries: 1, innerLr: 0.4, outerLr: 1e-3 };
