import { isAbsolute, join, normalize, sep } from "node:path";
import { ConcordError } from "@concord/core";
import { buildFingerprint, configToJson, type ExperimentConfig, PLUGIN_KINDS, parseConfig, type Registry, type RunPlan } from "@concord/runner";
import { confineConfigPaths, confinePath, type WorkerFolders } from "./job-paths.js";

/** The only payload version workers accept. */
export const RUN_JOB_VERSION = 2;

/** What a queued run carries: data only, never code or a path outside the worker's store. */
export interface RunJobPayload {
  readonly version: typeof RUN_JOB_VERSION;
  /** The run's validated config (configToJson form). */
  readonly config: Record<string, unknown>;
  /** Run folder relative to the store, e.g. `compare-sinusoid/maml+agreement/seed-3`. */
  readonly outFolder: string;
  readonly seed: number;
  readonly label: string;
  /** The coordinator's buildFingerprint(): a worker built from other code refuses the job. */
  readonly build: string;
}

/** A payload after validation: the parsed config and a safe relative folder. */
export interface RunJob {
  readonly config: ExperimentConfig;
  readonly outFolder: string;
  readonly seed: number;
  readonly label: string;
}

export function runJobPayload(run: RunPlan, outFolder: string): RunJobPayload {
  return {
    version: RUN_JOB_VERSION,
    config: configToJson(run.config) as Record<string, unknown>,
    outFolder,
    seed: run.seed,
    label: run.label,
    build: buildFingerprint(),
  };
}

/**
 * Validates a job's data as a worker must: the config as a config file would be (schema, unknown
 * fields), every plug-in it names present in this worker's registry (plug-ins come only from the
 * worker's own --plugin files: a job can never make a worker load code), the seed equal to the
 * config's, the folder a plain relative path inside the store, and every path in a plug-in's options
 * inside the worker's own folders (`folders`: its store and data folders; see confineConfigPaths).
 */
export function validateRunJob(data: unknown, registry: Registry, folders: WorkerFolders): RunJob {
  if (typeof data !== "object" || data === null || Array.isArray(data)) throw new ConcordError("expected an object", { field: "job" });
  const payload = data as Partial<RunJobPayload>;
  const known = new Set(["version", "config", "outFolder", "seed", "label", "build"]);
  const unknown = Object.keys(payload).filter((key) => !known.has(key));
  if (unknown.length > 0) throw new ConcordError(`unknown field ${JSON.stringify(unknown[0])}`, { field: "job" });
  if (payload.version !== RUN_JOB_VERSION)
    throw new ConcordError(`expected version ${RUN_JOB_VERSION}, got ${JSON.stringify(payload.version)}`, { field: "job.version" });
  checkBuild(payload.build);
  if (typeof payload.label !== "string" || payload.label.length === 0 || payload.label.length > 200) {
    throw new ConcordError(`expected a label of 1 to 200 characters, got ${JSON.stringify(payload.label)}`, { field: "job.label" });
  }
  const outFolder = checkOutFolder(payload.outFolder);
  // A symlink inside the store must not lead the run folder out of it either.
  confinePath(join(folders.store, outFolder), [folders.store], "job.outFolder", `--store ${folders.store}`);
  const config = parseConfigField(payload.config);
  if (payload.seed !== config.seed)
    throw new ConcordError(`expected the config's seed ${config.seed}, got ${JSON.stringify(payload.seed)}`, { field: "job.seed" });
  // Before any plug-in is created: creating one may already touch the folders its options name.
  confineConfigPaths(config, folders);
  checkConfigPlugins(config, registry);
  return { config, outFolder, seed: config.seed, label: payload.label };
}

/**
 * Refuses a job sent by a coordinator built from other code: the same config could compute other
 * numbers there, so the run would silently differ from its single-process twin.
 */
export function checkBuild(build: unknown): void {
  const own = buildFingerprint();
  if (build !== own) {
    throw new ConcordError(
      `the job comes from Concord build ${JSON.stringify(build)}, this worker is build "${own}"; run workers and coordinator from the same commit (or the same published versions)`,
      { field: "job.build" },
    );
  }
}

/**
 * Every plug-in the config names must be in this worker's registry (built-ins and its own --plugin
 * files), with options its schema accepts: the tensor-free ones are created here and dropped (the
 * task family's options are checked when the run creates it).
 */
export function checkConfigPlugins(config: ExperimentConfig, registry: Registry): void {
  for (const kind of PLUGIN_KINDS) {
    const name = config[kind].name;
    if (!registry.has(kind, name)) {
      throw new ConcordError(
        `the job names the ${kind} plug-in ${JSON.stringify(name)}, which this worker does not have (known: ${registry.names(kind).join(", ")}); ` +
          "workers load plug-ins only from their own --plugin files",
        { field: `job.config.${kind}` },
      );
    }
    if (kind === "tasks") continue;
    const created = registry.create(kind, config[kind], `job.config.${kind}`) as { dispose?: () => void };
    created.dispose?.();
  }
}

function parseConfigField(raw: unknown): ExperimentConfig {
  try {
    return parseConfig(raw);
  } catch (error) {
    if (error instanceof ConcordError) throw new ConcordError(error.message, { field: "job.config", cause: error });
    throw error;
  }
}

/** A relative path of plain names (letters, digits, . _ + - =), no `..`, no absolute path: it cannot leave the store. */
function checkOutFolder(value: unknown): string {
  const safe =
    typeof value === "string" &&
    value.length > 0 &&
    value.length <= 500 &&
    !isAbsolute(value) &&
    /^[A-Za-z0-9._+=-]+(\/[A-Za-z0-9._+=-]+)*$/.test(value) &&
    value.split("/").every((part) => part !== "." && part !== "..") &&
    normalize(value).split(sep).join("/") === value;
  if (!safe) throw new ConcordError(`expected a relative folder of plain names inside the store, got ${JSON.stringify(value)}`, { field: "job.outFolder" });
  return value;
}
