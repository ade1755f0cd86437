// The runner's only link to @concord/distributed, loaded when a command is given --queue (or is
// `concord worker`). The specifier is a variable on purpose: the runner must not depend on the
// distributed package (which depends on it) nor pull BullMQ and Redis clients into local runs.
import { ConcordError } from "@concord/core";
import type { TaskPool } from "@concord/algorithms";
import type { RunScheduler } from "../compare/schedule.js";
import type { ExperimentConfig } from "../config.js";
import type { Registry } from "../registry.js";

/** What the runner uses of @concord/distributed (its public API has these signatures). */
export interface DistributedModule {
  queueScheduler(options: { url: string; store: string; log?: (line: string) => void }): RunScheduler;
  queueTrainConfig(config: ExperimentConfig): ExperimentConfig;
  createQueuePool(options: { url: string; config: ExperimentConfig; chunkTasks?: number; timeoutSeconds?: number }): Promise<
    TaskPool & { stats(): { steps: number; bytesDown: number; bytesUp: number; resubmitted: number; takenOver: number; seconds: number } }
  >;
  startWorker(options: {
    url: string;
    store: string;
    registry: Registry;
    pluginFiles: readonly string[];
    concurrency?: number;
    lockSeconds?: number;
    maxAttempts?: number;
    logChunks?: boolean;
    log?: (line: string) => void;
  }): Promise<{ close(): Promise<void> }>;
}

const DISTRIBUTED_PACKAGE = "@concord/distributed";

export async function loadDistributed(): Promise<DistributedModule> {
  try {
    return (await import(DISTRIBUTED_PACKAGE)) as DistributedModule;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ERR_MODULE_NOT_FOUND" && String((error as Error).message).includes(DISTRIBUTED_PACKAGE)) {
      throw new ConcordError(`running on a queue needs the ${DISTRIBUTED_PACKAGE} package: npm install ${DISTRIBUTED_PACKAGE}`, { field: "--queue" });
    }
    throw error;
  }
}
