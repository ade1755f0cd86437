// The data-parallel protocol: one BullMQ job per (meta-step, chunk of tasks). The job itself is small
// JSON (what to compute and with which config); θ, the chunk's tasks and the chunk's results travel
// as raw bytes in Redis keys that both sides derive from (session, step, chunk), never from a key
// name a job could choose.
import { ConcordError } from "@concord/core";
import type { TaskGradientKind } from "@concord/algorithms/node";
import { configToJson, type ExperimentConfig, PLUGIN_KINDS, parseConfig, type Registry } from "@concord/runner";
import { checkBuild, checkConfigPlugins } from "../job.js";
import { confineConfigPaths, type WorkerFolders } from "../job-paths.js";
import { MAX_CHUNK_DEADLINE_MS, MIN_CHUNK_DEADLINE_MS } from "./chunk-deadline.js";

/** The BullMQ queue of task chunks (runs of `compare --queue` use DEFAULT_QUEUE_NAME). */
export const TASK_QUEUE_NAME = "concord-tasks";
/** The only payload version workers accept. */
export const TASK_JOB_VERSION = 3;
/** How long θ, tasks and results stay in Redis (they are read within seconds; this only bounds leftovers). */
export const BLOB_TTL_MS = 15 * 60 * 1000;

const KINDS: readonly TaskGradientKind[] = ["second-order", "first-order", "none"];
/** useBackend() choices a chunk may name ("native": wasm with @concord/backend-native's kernels). */
const BACKENDS = ["cpu", "wasm", "webgl", "native"] as const;

/** What a chunk job carries (JSON). */
export interface TaskChunkPayload {
  readonly version: typeof TASK_JOB_VERSION;
  /** The coordinator's buildFingerprint(): a worker built from other code refuses the chunk. */
  readonly build: string;
  /** The run's config (configToJson form): the worker builds the model, objective and inner optimizer from it. */
  readonly config: Record<string, unknown>;
  /** The backend choice the coordinator computes with (activeBackendChoice); workers must use the same one for identical numbers. */
  readonly backend: (typeof BACKENDS)[number];
  /** Random hex id of the coordinator's pool; with step and chunk it names the Redis keys. */
  readonly session: string;
  /** The meta-step's number within the session (0, 1, …). */
  readonly step: number;
  readonly chunk: number;
  /** Task indices [start, end) of the meta-batch of `taskCount` tasks. */
  readonly start: number;
  readonly end: number;
  readonly taskCount: number;
  readonly kind: TaskGradientKind;
  readonly innerSteps: number;
  readonly adapt: "all" | "head" | string[] | undefined;
  readonly names: { model: string; objective: string; innerOptimizer: string };
  /**
   * Compute time the worker allows this chunk (ms, from handing it to its compute thread): past it, the
   * worker stops that thread and fails the attempt, so a hung computation cannot hold the chunk (its
   * lock is renewed by the worker's main thread) forever.
   */
  readonly deadlineMs: number;
}

/** A validated chunk job, with its parsed config. */
export interface TaskChunk extends TaskChunkPayload {
  readonly parsedConfig: ExperimentConfig;
}

export function blobKeys(session: string, step: number, chunk: number): { theta: string; tasks: string; result: string } {
  const base = `concord:tasks:${session}:${step}`;
  return { theta: `${base}:theta`, tasks: `${base}:tasks:${chunk}`, result: `${base}:result:${chunk}` };
}

export function chunkJobId(session: string, step: number, chunk: number): string {
  return `${session}-${step}-${chunk}`;
}

/** Contiguous chunks of at most `size` tasks covering [0, taskCount). */
export function chunkRanges(taskCount: number, size: number): [start: number, end: number][] {
  const ranges: [number, number][] = [];
  for (let start = 0; start < taskCount; start += size) ranges.push([start, Math.min(taskCount, start + size)]);
  return ranges;
}

export function configPayload(config: ExperimentConfig): Record<string, unknown> {
  return configToJson(config) as Record<string, unknown>;
}

/**
 * Validates a chunk job as a worker must: every field typed and in range, the config valid like a
 * config file and naming only plug-ins this worker has (from its own --plugin files; a job never
 * makes a worker load code), with every path in the options of the plug-ins a chunk creates (all but
 * the task family: tasks come from the coordinator) inside the worker's own folders.
 */
export function validateTaskChunk(data: unknown, registry: Registry, folders: WorkerFolders): TaskChunk {
  if (typeof data !== "object" || data === null || Array.isArray(data)) throw new ConcordError("expected an object", { field: "job" });
  const payload = data as Partial<TaskChunkPayload>;
  const known = new Set([
    "version",
    "build",
    "config",
    "backend",
    "session",
    "step",
    "chunk",
    "start",
    "end",
    "taskCount",
    "kind",
    "innerSteps",
    "adapt",
    "names",
    "deadlineMs",
  ]);
  const unknown = Object.keys(payload).filter((key) => !known.has(key));
  if (unknown.length > 0) throw new ConcordError(`unknown field ${JSON.stringify(unknown[0])}`, { field: "job" });
  if (payload.version !== TASK_JOB_VERSION)
    throw new ConcordError(`expected version ${TASK_JOB_VERSION}, got ${JSON.stringify(payload.version)}`, { field: "job.version" });
  checkBuild(payload.build);
  if (typeof payload.session !== "string" || !/^[0-9a-f]{16,64}$/.test(payload.session)) {
    throw new ConcordError(`expected a hex session id, got ${JSON.stringify(payload.session)}`, { field: "job.session" });
  }
  const integer = (value: unknown, field: string, min: number, max = Number.MAX_SAFE_INTEGER): number => {
    if (!Number.isSafeInteger(value) || (value as number) < min || (value as number) > max) {
      throw new ConcordError(`expected an integer from ${min} to ${max}, got ${JSON.stringify(value)}`, { field: `job.${field}` });
    }
    return value as number;
  };
  integer(payload.step, "step", 0);
  integer(payload.chunk, "chunk", 0);
  const taskCount = integer(payload.taskCount, "taskCount", 1, 1_000_000);
  const start = integer(payload.start, "start", 0, taskCount - 1);
  integer(payload.end, "end", start + 1, taskCount);
  integer(payload.innerSteps, "innerSteps", 0, 100_000);
  integer(payload.deadlineMs, "deadlineMs", MIN_CHUNK_DEADLINE_MS, MAX_CHUNK_DEADLINE_MS);
  if (!KINDS.includes(payload.kind as TaskGradientKind))
    throw new ConcordError(`expected one of ${KINDS.join(", ")}, got ${JSON.stringify(payload.kind)}`, { field: "job.kind" });
  if (!BACKENDS.includes(payload.backend as (typeof BACKENDS)[number])) {
    throw new ConcordError(`expected one of ${BACKENDS.join(", ")}, got ${JSON.stringify(payload.backend)}`, { field: "job.backend" });
  }
  const adapt = payload.adapt;
  const adaptOk =
    adapt === undefined ||
    adapt === "all" ||
    adapt === "head" ||
    (Array.isArray(adapt) && adapt.length > 0 && adapt.every((name) => typeof name === "string" && name.length > 0));
  if (!adaptOk) throw new ConcordError(`expected "all", "head" or parameter names, got ${JSON.stringify(adapt)}`, { field: "job.adapt" });
  const names = payload.names;
  if (typeof names !== "object" || names === null || !(["model", "objective", "innerOptimizer"] as const).every((key) => typeof names[key] === "string")) {
    throw new ConcordError("expected { model, objective, innerOptimizer } names", { field: "job.names" });
  }
  let parsedConfig: ExperimentConfig;
  try {
    parsedConfig = parseConfig(payload.config);
  } catch (error) {
    if (error instanceof ConcordError) throw new ConcordError(error.message, { field: "job.config", cause: error });
    throw error;
  }
  confineConfigPaths(
    parsedConfig,
    folders,
    PLUGIN_KINDS.filter((kind) => kind !== "tasks"),
  );
  checkConfigPlugins(parsedConfig, registry);
  return { ...(payload as TaskChunkPayload), parsedConfig };
}
