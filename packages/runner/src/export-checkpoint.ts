// A run's checkpoint as a @concord/deploy export: the library half of `concord export`.
import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { ConcordError, type Model, type ModelShape } from "@concord/core";
import { metaModelArtifacts, type MetaModelSpec, type Preprocessing } from "@concord/deploy";
import { saveMetaModel } from "@concord/deploy/node";
import { createRegistry } from "./builtins.js";
import { disposeCheckpoint, loadCheckpoint } from "./checkpoint.js";
import { configToJson, type ExperimentConfig } from "./config.js";
import type { Registry } from "./registry.js";
import { checkpointConfig, EVALUATION_FILE, evaluationSummary } from "./run-folder.js";

export interface ExportResult {
  /** Files written: the shards, then model.json. */
  readonly files: readonly string[];
  readonly iteration: number;
  readonly spec: MetaModelSpec;
}

/**
 * Writes the checkpoint's parameters (the meta-learned initialisation) as a @concord/deploy export. Adaptation takes the config's evaluation.innerSteps
 * (the step count its held-out figures are reported at); the run's evaluation.json is included when it
 * belongs to this checkpoint's iteration. An export is published: it records what the run was
 * (see exportedTrainingConfig), never where it ran.
 */
export async function exportCheckpoint(checkpointPath: string, outDir: string, registry: Registry = createRegistry()): Promise<ExportResult> {
  const checkpoint = loadCheckpoint(checkpointPath);
  try {
    const config = checkpointConfig(checkpoint, checkpointPath);
    const model = registry.create("model", config.model, "model");
    const shape = modelShapeOf(model, config, registry);
    const spec: MetaModelSpec = {
      model: config.model,
      objective: config.objective,
      innerOptimizer: config.innerOptimizer,
      innerSteps: config.evaluation.innerSteps,
      inputShape: [...shape.inputShape],
      labelCount: registry.definition("objective", config.objective.name)?.classes ? shape.outputs : null,
      preprocessing: preprocessingOf(config, registry),
      training: {
        config: exportedTrainingConfig(configToJson(config)),
        iteration: checkpoint.iteration,
        backend: checkpoint.backend,
        trainSeconds: checkpoint.elapsedSeconds,
        checkpointCreatedAt: checkpoint.createdAt,
      },
      evaluation: evaluationOf(checkpointPath, checkpoint.iteration),
    };
    const files = await saveMetaModel(outDir, metaModelArtifacts(checkpoint.params, spec));
    return { files, iteration: checkpoint.iteration, spec };
  } finally {
    disposeCheckpoint(checkpoint);
  }
}

/** What the model's definition says it takes and gives: an export records it, so a loader needs no guess. */
function modelShapeOf(model: Model, config: ExperimentConfig, registry: Registry): ModelShape {
  const definition = registry.definition("model", config.model.name);
  if (typeof definition?.shape !== "function") {
    throw new ConcordError(`model "${config.model.name}" cannot be exported: its plug-in definition has no shape(model) giving its input shape and outputs`, {
      field: "model",
    });
  }
  return definition.shape(model);
}

/** The task family declares how it made its inputs; the runner does not know any family's data. */
function preprocessingOf(config: ExperimentConfig, registry: Registry): Preprocessing {
  return registry.definition("tasks", config.tasks.name)?.preprocessing ?? { kind: "none" };
}

/** The run's evaluation.json when it was computed for this very checkpoint: its summary fields only. */
function evaluationOf(checkpointPath: string, iteration: number): Record<string, unknown> | null {
  const path = join(dirname(checkpointPath), EVALUATION_FILE);
  if (!existsSync(path)) return null;
  try {
    const evaluation = evaluationSummary(JSON.parse(readFileSync(path, "utf8")) as Record<string, unknown>);
    return evaluation.iteration === iteration ? pick(evaluation, RECORDED_EVALUATION_RESULT) : null;
  } catch {
    return null;
  }
}

// What an export records about its run is an allow-list, not a list of things to strip: a field added
// to configs later (a new output folder, a log path) stays out of published files until someone
// decides it belongs. The record says what the run was, never where it ran.

/** Config fields recorded, in config order: the experiment itself (not $schema, description, logging or checkpoint cadence, compare). */
const RECORDED_CONFIG = [
  "seed",
  "iterations",
  "metaBatchSize",
  "backend",
  "weighting",
  "algorithm",
  "model",
  "tasks",
  "objective",
  "innerOptimizer",
  "outerOptimizer",
  "evaluation",
];
/** evaluation fields recorded (not chunkSize, an execution detail). */
const RECORDED_EVALUATION = ["tasks", "innerSteps", "seed", "sampler"];
/** evaluation.json fields recorded (EvaluationResult's summary and its iteration). */
const RECORDED_EVALUATION_RESULT = ["iteration", "taskCount", "loss", "accuracy", "backend"];
/** Plug-in options that say where data lives on the training machine (runner convention: `--data` sets dataDir, resume ignores both). */
const DATA_LOCATION_OPTIONS = new Set(["dataDir", "cacheDir"]);
/** A string option recorded as a name ("train", "pytorch", "transductive"): no separator, space, scheme or leading dot or tilde. */
const NAME = /^[A-Za-z0-9_+-][A-Za-z0-9_.+-]{0,63}$/;

/**
 * The part of a config (in its JSON form) that an export records. Top-level and evaluation fields come
 * from fixed allow-lists; a plug-in spec keeps its name and each option that is a hyperparameter: a
 * finite number, a boolean, null, a name-like string, or arrays and objects of those; data-location
 * options (dataDir, cacheDir) never. Everything else is left out, silently: the record is not a
 * config to re-run verbatim (the run folder's config.json is).
 */
export function exportedTrainingConfig(configJson: Readonly<Record<string, unknown>>): Record<string, unknown> {
  const config: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(configJson)) {
    if (!RECORDED_CONFIG.includes(key)) continue;
    if (key === "evaluation" && isPlainObject(value)) config[key] = recordedEvaluation(value);
    else config[key] = isPlainObject(value) ? recordedPluginSpec(value) : value;
  }
  return config;
}

function recordedEvaluation(evaluation: Record<string, unknown>): Record<string, unknown> {
  const recorded = pick(evaluation, RECORDED_EVALUATION);
  if (isPlainObject(recorded.sampler)) recorded.sampler = recordedPluginSpec(recorded.sampler);
  return recorded;
}

function recordedPluginSpec(spec: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(spec).filter(([key, value]) => key === "name" || (!DATA_LOCATION_OPTIONS.has(key) && isHyperparameter(value))));
}

function isHyperparameter(value: unknown): boolean {
  if (value === null || typeof value === "boolean") return true;
  if (typeof value === "number") return Number.isFinite(value);
  if (typeof value === "string") return NAME.test(value);
  if (Array.isArray(value)) return value.every(isHyperparameter);
  if (isPlainObject(value)) return Object.entries(value).every(([key, item]) => NAME.test(key) && !DATA_LOCATION_OPTIONS.has(key) && isHyperparameter(item));
  return false;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === "object" && !Array.isArray(value);
}

function pick(record: Readonly<Record<string, unknown>>, keys: readonly string[]): Record<string, unknown> {
  return Object.fromEntries(keys.filter((key) => record[key] !== undefined).map((key) => [key, record[key]]));
}
