import { readFile } from "node:fs/promises";
import { extname } from "node:path";
import { ConcordError } from "@concord/core";
import { parse as parseYaml } from "yaml";
import { z } from "zod";
import { BACKEND_CHOICES, type FastKernelName, INSTALL_ORDER } from "@concord/backend";
import { parseWithSchema } from "./schema-errors.js";

/** A plug-in named in a config: `"agreement"` or `{ "name": "agreement", "eps": 0 }`. */
export interface PluginSpec {
  readonly name: string;
  /** Every field of the object form except `name`; validated by the plug-in's own schema. */
  readonly options: Readonly<Record<string, unknown>>;
}

export const PLUGIN_KINDS = ["weighting", "algorithm", "model", "tasks", "objective", "innerOptimizer", "outerOptimizer"] as const;
export type PluginKind = (typeof PLUGIN_KINDS)[number];

const pluginSpec = z
  .union([z.string().min(1), z.looseObject({ name: z.string().min(1) })], {
    error: 'a plug-in name (string) or an object with a string "name" field',
  })
  .transform((value): PluginSpec => {
    if (typeof value === "string") return { name: value, options: {} };
    const { name, ...options } = value;
    return { name, options };
  });

const integer = (min: number) => z.number().int().min(min);

const evaluationSchema = z.strictObject({
  /** Held-out tasks (MAML paper: 600). */
  tasks: integer(1).default(600),
  /** Report inner steps 0..innerSteps. */
  innerSteps: integer(0).default(10),
  /** Fixes the held-out task set: the same for every arm and training seed. */
  seed: z.number().int().default(20_181_017),
  /** Tasks adapted at once. */
  chunkSize: integer(1).optional(),
  /** The task family to evaluate on. Default: the training `tasks` without its `corruption` (clean tasks). */
  sampler: pluginSpec.optional(),
});

const compareSchema = z.strictObject({
  /** Options per algorithm name used by `concord compare --algorithms`, e.g. { "reptile": { "innerSteps": 5 } }. */
  algorithms: z.record(z.string(), z.looseObject({})).default({}),
  /** Options per weighting name used by `concord compare --weighting`, e.g. { "tail-risk": { "alpha": 0.1 } }. */
  weightings: z.record(z.string(), z.looseObject({})).default({}),
});

/** The experiment config schema (JSON or YAML). Unknown fields are rejected. */
export const experimentConfigSchema = z.strictObject({
  $schema: z.string().optional(),
  /** One line shown by `concord presets`. */
  description: z.string().optional(),
  seed: z.number().int().default(0),
  iterations: integer(0),
  metaBatchSize: integer(1),
  backend: z.enum(BACKEND_CHOICES as ["auto", "cpu", "wasm", "webgl"]).default("auto"),
  /**
   * Concord kernels to leave out (useBackend's skipKernels), e.g. ["batch-norm-grad-grad"] to resume
   * a run started before that kernel existed with the float32 rounding it began with.
   */
  skipKernels: z.array(z.enum(INSTALL_ORDER as [FastKernelName, ...FastKernelName[]])).default([]),
  weighting: pluginSpec.default({ name: "uniform", options: {} }),
  algorithm: pluginSpec,
  model: pluginSpec,
  tasks: pluginSpec,
  objective: pluginSpec,
  innerOptimizer: pluginSpec,
  outerOptimizer: pluginSpec,
  evaluation: evaluationSchema.prefault({}),
  /** Write a checkpoint every N iterations (and always at the end). */
  checkpointEvery: integer(1).default(100),
  /** Also keep the checkpoint of these iterations as checkpoint-<iteration>.ckpt (e.g. to evaluate the trend later). */
  keepCheckpoints: z.array(integer(1)).default([]),
  /** Plain log line / metrics flush every N iterations. */
  logEvery: integer(1).default(100),
  compare: compareSchema.prefault({}),
});

export type ExperimentConfig = z.output<typeof experimentConfigSchema>;
/** What a user writes (defaults optional, plug-ins as names or objects). */
export type ExperimentConfigInput = z.input<typeof experimentConfigSchema>;

/** Validates a parsed config object; every error names the field, the value and what was expected. */
export function parseConfig(raw: unknown): ExperimentConfig {
  return parseWithSchema(experimentConfigSchema, raw);
}

/** Reads a .json, .yaml or .yml config file and validates it. */
export async function loadConfigFile(path: string): Promise<ExperimentConfig> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (error) {
    throw new ConcordError(`cannot read config file (${(error as NodeJS.ErrnoException).code ?? String(error)})`, { field: path, cause: error });
  }
  return parseConfig(parseConfigText(text, path));
}

/** Parses config text as JSON, or YAML for .yaml/.yml files; syntax errors name the file and position. */
export function parseConfigText(text: string, path: string): unknown {
  const extension = extname(path).toLowerCase();
  if (extension === ".yaml" || extension === ".yml") {
    try {
      return parseYaml(text);
    } catch (error) {
      throw new ConcordError(`expected valid YAML, got a syntax error: ${firstLine((error as Error).message)}`, { field: path, cause: error });
    }
  }
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new ConcordError(`expected valid JSON, got a syntax error: ${firstLine((error as Error).message)}`, { field: path, cause: error });
  }
}

/** The plug-in spec back in config form (`{ name, ...options }`), e.g. for checkpoints and reports. */
export function specToJson(spec: PluginSpec): Record<string, unknown> {
  return { name: spec.name, ...spec.options };
}

/** A config as plain JSON in its input form (re-parses to the same config). */
export function configToJson(config: ExperimentConfig): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(config)) {
    if (value === undefined) continue;
    out[key] = (PLUGIN_KINDS as readonly string[]).includes(key) ? specToJson(value as PluginSpec) : value;
  }
  const evaluation = { ...config.evaluation } as Record<string, unknown>;
  if (config.evaluation.sampler) evaluation.sampler = specToJson(config.evaluation.sampler);
  else delete evaluation.sampler;
  out.evaluation = evaluation;
  return out;
}

/** Applies command-line overrides (--iterations, --seed, --backend) through the same validation. */
export function withOverrides(config: ExperimentConfig, overrides: { iterations?: number; seed?: number; backend?: string }): ExperimentConfig {
  const json = configToJson(config);
  if (overrides.iterations !== undefined) json.iterations = overrides.iterations;
  if (overrides.seed !== undefined) json.seed = overrides.seed;
  if (overrides.backend !== undefined) json.backend = overrides.backend;
  return parseConfig(json);
}

/** Points the task families (training and evaluation) at a data folder: their `dataDir` option. */
export function withDataDir(config: ExperimentConfig, dataDir: string): ExperimentConfig {
  const put = (spec: PluginSpec): PluginSpec => ({ name: spec.name, options: { ...spec.options, dataDir } });
  return {
    ...config,
    tasks: put(config.tasks),
    evaluation: { ...config.evaluation, ...(config.evaluation.sampler ? { sampler: put(config.evaluation.sampler) } : {}) },
  };
}

/**
 * The first field where two configs differ in a way that changes training (iterations, logging,
 * checkpoint cadence and kept checkpoints, evaluation and the data folder may differ on resume), or undefined when they match.
 */
export function firstTrainingDifference(a: ExperimentConfig, b: ExperimentConfig): { field: string; a: unknown; b: unknown } | undefined {
  const strip = (config: ExperimentConfig) => {
    const {
      iterations: _i,
      checkpointEvery: _c,
      keepCheckpoints: _kc,
      logEvery: _l,
      evaluation: _e,
      description: _d,
      $schema: _s,
      compare: _k,
      ...rest
    } = configToJson(config);
    // Where the data lives is not what it is: a moved data folder may still resume.
    const { dataDir: _data, cacheDir: _cache, ...tasks } = rest.tasks as Record<string, unknown>;
    return { ...rest, tasks };
  };
  return firstDifference(strip(a), strip(b), "");
}

/**
 * The first field where two configs differ in a way that changes a finished run's result: training
 * (firstTrainingDifference), the number of iterations, or the evaluation (its data folder aside).
 * Logging and checkpoint cadence do not, so a finished run stays finished when only they change.
 */
export function firstResultDifference(a: ExperimentConfig, b: ExperimentConfig): { field: string; a: unknown; b: unknown } | undefined {
  const result = (config: ExperimentConfig) => {
    const { sampler, ...evaluation } = configToJson(config).evaluation as Record<string, unknown> & { sampler?: Record<string, unknown> };
    const { dataDir: _data, cacheDir: _cache, ...samplerOptions } = sampler ?? {};
    return { iterations: config.iterations, evaluation: { ...evaluation, ...(sampler ? { sampler: samplerOptions } : {}) } };
  };
  return firstTrainingDifference(a, b) ?? firstDifference(result(a), result(b), "");
}

function firstDifference(a: unknown, b: unknown, path: string): { field: string; a: unknown; b: unknown } | undefined {
  if (a !== null && b !== null && typeof a === "object" && typeof b === "object" && Array.isArray(a) === Array.isArray(b)) {
    const keys = [...new Set([...Object.keys(a), ...Object.keys(b)])];
    for (const key of keys) {
      const sub = Array.isArray(a) ? `${path}[${key}]` : path ? `${path}.${key}` : key;
      const found = firstDifference((a as Record<string, unknown>)[key], (b as Record<string, unknown>)[key], sub);
      if (found) return found;
    }
    return undefined;
  }
  return Object.is(a, b) ? undefined : { field: path, a, b };
}

function firstLine(text: string): string {
  return text.split("\n")[0] ?? text;
}
