// The body of one queued run, in a worker thread of `concord worker`: training is synchronous
// tfjs work, and in the main thread it would stop BullMQ from renewing the job's lock (the job would
// look stalled to the other workers while it is still running). A SIGKILL of the worker process
// ends this thread with it; a worker that loses the job's lock but lives on (SIGSTOP, GC pause,
// partition) terminates it, and until then every write is fenced by the epoch of the folder's lease.
import { parentPort, workerData } from "node:worker_threads";
import { ConcordError, disposeParams } from "@concord/core";
import { createRegistry, leaseFence, loadPlugins, parseConfig, runExperiment, StaleWriter } from "@concord/runner";
import * as tf from "@tensorflow/tfjs-core";

/** What the worker hands the thread (data only; plug-in files are the worker's own --plugin flags). */
export interface TrainThreadInput {
  readonly config: Record<string, unknown>;
  readonly outDir: string;
  /** This start's epoch (the run folder's lease names it): every write is fenced by it. */
  readonly epoch: number;
  readonly resume: boolean;
  readonly label: string;
  readonly pluginFiles: readonly string[];
}

/** What the thread posts back. */
export type TrainThreadMessage =
  | { readonly ok: true; readonly iteration: number; readonly trainSeconds: number }
  | { readonly ok: false; readonly message: string; readonly badInput: boolean };

async function main(input: TrainThreadInput): Promise<TrainThreadMessage> {
  tf.env().set("PROD", true);
  const registry = createRegistry();
  await loadPlugins(registry, input.pluginFiles);
  const result = await runExperiment(parseConfig(input.config), {
    outDir: input.outDir,
    registry,
    resume: input.resume,
    label: input.label,
    progress: "none",
    fence: leaseFence(input.outDir, input.epoch),
  });
  disposeParams(result.params);
  return { ok: true, iteration: result.iteration, trainSeconds: result.trainSeconds };
}

main(workerData as TrainThreadInput).then(
  (message) => parentPort!.postMessage(message),
  (error: unknown) =>
    // A stale writer is not bad input: the job itself is fine (and trained elsewhere).
    parentPort!.postMessage({
      ok: false,
      message: (error as Error)?.message ?? String(error),
      badInput: error instanceof ConcordError && !(error instanceof StaleWriter),
    } satisfies TrainThreadMessage),
);
