// Same-process A/B of the native addon's thread count on the calling thread: `node
// scripts/bench-ab-threads.mjs [workload] [execution] [rounds] [threadsA] [threadsB]` (after `pnpm
// build`). The addon's setThreads is process-wide and read on every call, so the two settings can
// alternate in blocks of 10 iterations (ab-alternation.mjs). With execution "parallel" the task pool's
// workers keep their own setting (1); this measures what the caller's helper threads add or cost
// while a worker runs tasks on the other core. Prints CPU (all threads) and wall ms per iteration.
import { alternateAB } from "./ab-alternation.mjs";

const [workload = "omniglot-maml1", execution = "parallel", roundsArg = "6", threadsA = "2", threadsB = "1"] = process.argv.slice(2);
process.argv[2] = JSON.stringify({ workload, backend: "native", execution, iterations: 0, warmup: 0, profileOnly: true });
const { runIteration, lastIterationCpuMs } = await import("./bench-worker.mjs");
const native = (await import(new URL("../packages/backend-native/dist/index.js", import.meta.url).href)).loadNativeKernels();
const threads = { A: Number(threadsA), B: Number(threadsB) };

const { A, B } = await alternateAB({ configure: (label) => native.setThreads(threads[label]), runIteration, lastIterationCpuMs, rounds: Number(roundsArg) });
console.log(
  `${workload} native ${execution}: A (caller's addon threads ${threads.A}) CPU ${A.cpu} ms, wall ${A.wall} ms; ` +
    `B (${threads.B}) CPU ${B.cpu} ms, wall ${B.wall} ms`,
);
process.exit(0);
