// The task pool as the meta-step sees it: interfaces only, so that the main entry (maml, reptile)
// can accept a pool without importing the pool module (node:worker_threads), which lives behind
// @concord/algorithms/node.
import type { Params, Task } from "@concord/core";
import type { AdaptOptions } from "../adapt.js";
import type { TaskGradientKind } from "../task-gradient-kind.js";
import type { TaskJobResult } from "./wire.js";

/** A set of worker threads that compute per-task adaptation results next to the calling thread. */
export interface TaskPool {
  readonly threads: number;
  readonly backend: string;
  /** Stops the workers. */
  close(): Promise<void>;
}

/** Internal view used by the per-task path (and, where `runsChunks`, the batched one). */
export interface RunnableTaskPool extends TaskPool {
  /**
   * Sends θ and every task to every worker and resets the shared counter. The caller and the
   * workers then claim indices with `claim()` until it returns −1: task indices, or with a
   * `chunkSize` (only where `runsChunks`) indices of chunks of that many consecutive tasks, each run
   * as one batched pass; `wait()` returns each worker's results (tagged with their indices).
   */
  dispatch(
    params: Params,
    tasks: readonly Task[],
    kind: TaskGradientKind,
    options: AdaptOptions,
    chunkSize?: number,
  ): { claim: () => number; wait: () => TaskJobResult[] };
  /** The workers can run chunks of tasks batched (dispatch's chunkSize). */
  readonly runsChunks?: true;
}
