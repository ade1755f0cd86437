// The body of one queued run, in a worker thread of `concord worker`: training is synchronous
// tfjs work, and in the main thread it would stop BullMQ from renewing the job's lock (the job would
// look stalled to the other workers while it is still running). A SIGKILL of the worker process
// ends this thread with it, so no orphan ever writes into a run folder another worker took over.
import { parentPort, workerData } from "node:worker_threads";
import { ConcordError, disposeParams } from "@concord/core";
import { createRegistry, loadPlugins, parseConfig, runExperiment } from "@concord/runner";
import * as tf from "@tensorflow/tfjs-core";

/** What the worker hands the thread (data only; plug-in files are the worker's own --plugin flags). */
export interface TrainThreadInput {
  readonly config: Record<string, unknown>;
  readonly outDir: string;
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
  });
  disposeParams(result.params);
  return { ok: true, iteration: result.iteration, trainSeconds: result.trainSeconds };
}

main(workerData as TrainThreadInput).then(
  (message) => parentPort!.postMessage(message),
  (error: unknown) =>
    parentPort!.postMessage({ ok: false, message: (error as Error)?.message ?? String(error), badInput: error instanceof ConcordError } satisfies TrainThreadMessage),
);
