import type * as tf from "@tensorflow/tfjs-core";
import { ConcordError } from "@concord/core";
import { META_MODEL_FORMAT, META_MODEL_FORMAT_VERSION, type MetaModelJson } from "./format.js";
import { DEFAULT_LOAD_LIMITS, type LoadLimits } from "./limits.js";
import { type ShardSizes, shardSizes } from "./shard-sizes.js";

/** Bytes per value of the one dtype an export holds. */
const FLOAT32_BYTES = 4;
/** Highest tensor rank a manifest entry may claim (tfjs itself goes to 6). */
const MAX_RANK = 8;
/** Longest free-text field of the preprocessing section, in characters. */
const MAX_TEXT_LENGTH = 4096;
/**
 * Largest options object of a plug-in spec, in characters of JSON. Options are hyperparameters (the
 * longest legitimate one is a list of layer widths); building a model is linear in them, and 2 MB of
 * "sizes" would make an MLP of a million layers, seconds of work before any check could refuse it.
 */
const MAX_OPTIONS_LENGTH = 65_536;

/** One weights group of a checked manifest: its shard paths, weights and the bytes they take. */
export interface CheckedGroup {
  readonly paths: readonly string[];
  readonly weights: readonly tf.io.WeightsManifestEntry[];
  readonly bytes: number;
  /** What each shard must hold (see shard-sizes.ts). */
  readonly shardSizes: ShardSizes;
}

/** model.json after every check that needs nothing but its text. */
export interface CheckedModelJson {
  readonly json: MetaModelJson;
  readonly groups: readonly CheckedGroup[];
  /** Every weight in manifest order (the parameters' flattening order). */
  readonly entries: readonly tf.io.WeightsManifestEntry[];
}

/**
 * Validates model.json text before anything is allocated or read: the Concord format and version,
 * the plug-in specs, `innerSteps` ≤ maxInnerSteps, `inputShape` (positive integers, ≤ maxInputElements
 * values), `labelCount`, the preprocessing section field by field, and the weights manifest: float32
 * entries with non-empty unique names and shapes of non-negative integers, Σ shape products ≤
 * maxParameters, and per group a byte count its shard paths can hold. Errors are ConcordErrors
 * naming `label` and the field.
 */
export function parseModelJson(text: string, label: string, limits: LoadLimits = DEFAULT_LOAD_LIMITS): CheckedModelJson {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (error) {
    throw new ConcordError(`expected valid JSON, got a syntax error: ${(error as Error).message}`, { field: label, cause: error });
  }
  const bad = (field: string, message: string) => new ConcordError(message, { field: `${label}: ${field}` });
  if (!isObject(raw)) throw bad("(top level)", "expected a JSON object");
  if (raw.format !== META_MODEL_FORMAT) throw bad("format", `expected "${META_MODEL_FORMAT}", got ${brief(raw.format)}`);
  const concord = raw.concord;
  if (!isObject(concord)) throw bad("concord", "expected the concord section (an object), got nothing");
  if (concord.formatVersion !== META_MODEL_FORMAT_VERSION) {
    throw bad(
      "concord.formatVersion",
      `expected ${META_MODEL_FORMAT_VERSION}, got ${brief(concord.formatVersion)} (re-export the model with this version of Concord)`,
    );
  }
  checkConcordSection(concord, limits, bad);
  const { groups, entries } = checkManifest(raw.weightsManifest, limits, bad);
  return { json: raw as unknown as MetaModelJson, groups, entries };
}

type Bad = (field: string, message: string) => ConcordError;

function checkConcordSection(concord: Record<string, unknown>, limits: LoadLimits, bad: Bad): void {
  for (const key of ["model", "objective", "innerOptimizer"] as const) {
    const spec = concord[key];
    if (!isObject(spec) || typeof spec.name !== "string" || !isObject(spec.options)) {
      throw bad(`concord.${key}`, `expected { name: string, options: object }, got ${brief(spec)}`);
    }
    const length = JSON.stringify(spec.options).length;
    if (length > MAX_OPTIONS_LENGTH)
      throw bad(`concord.${key}.options`, `expected at most ${MAX_OPTIONS_LENGTH} characters of JSON (hyperparameters), got ${length}`);
  }
  const innerSteps = concord.innerSteps;
  if (!isInteger(innerSteps, 0)) throw bad("concord.innerSteps", `expected an integer >= 0, got ${brief(innerSteps)}`);
  if (innerSteps > limits.maxInnerSteps) {
    throw bad(
      "concord.innerSteps",
      `expected at most maxInnerSteps ${limits.maxInnerSteps} inner steps, got ${innerSteps} (pass a larger maxInnerSteps to load it)`,
    );
  }
  const inputShape = concord.inputShape;
  if (!Array.isArray(inputShape) || inputShape.length === 0 || inputShape.length > MAX_RANK || !inputShape.every((d) => isInteger(d, 1))) {
    throw bad("concord.inputShape", `expected 1 to ${MAX_RANK} integers >= 1, got ${brief(inputShape)}`);
  }
  const inputElements = product(inputShape);
  if (inputElements > limits.maxInputElements) {
    throw bad(
      "concord.inputShape",
      `expected at most maxInputElements ${limits.maxInputElements} values per example, got [${inputShape}] = ${count(inputElements)}`,
    );
  }
  const labelCount = concord.labelCount;
  // 0: an embedding network (ProtoNet), which classifies any number of classes by prototypes.
  if (labelCount !== null && !isInteger(labelCount, 0))
    throw bad("concord.labelCount", `expected an integer >= 0 (0 for an embedding) or null, got ${brief(labelCount)}`);
  checkPreprocessing(concord.preprocessing, inputShape, bad);
  for (const key of ["training", "evaluation"] as const) {
    if (concord[key] !== null && !isObject(concord[key])) throw bad(`concord.${key}`, `expected an object or null, got ${brief(concord[key])}`);
  }
}

const PREPROCESSING_KINDS = ["none", "omniglot-drawing"];

/** The preprocessing section must be one of the kinds @concord/core's InputPreprocessing defines, exactly. */
function checkPreprocessing(value: unknown, inputShape: readonly number[], bad: Bad): void {
  const field = "concord.preprocessing";
  if (!isObject(value)) throw bad(field, `expected an object { kind, … }, got ${brief(value)}`);
  if (!PREPROCESSING_KINDS.includes(value.kind as string)) {
    throw bad(`${field}.kind`, `expected one of ${PREPROCESSING_KINDS.map((kind) => JSON.stringify(kind)).join(", ")}, got ${brief(value.kind)}`);
  }
  if (value.kind === "none") return;
  const size = value.size;
  if (!Array.isArray(size) || size.length !== 2 || !size.every((d) => isInteger(d, 1)))
    throw bad(`${field}.size`, `expected [height, width] as integers >= 1, got ${brief(size)}`);
  // The images are the model's inputs: [height, width(, channels)] or flattened.
  const [height, width] = size as [number, number];
  const fits = inputShape.length >= 2 ? height === inputShape[0] && width === inputShape[1] : height * width === inputShape[0];
  if (!fits) throw bad(`${field}.size`, `expected the size of the model's input [${inputShape}], got [${size}]`);
  const exact: [string, unknown][] = [
    ["resize", "area"],
    ["invert", true],
    ["quantization", "uint8"],
  ];
  for (const [key, expected] of exact) {
    if (value[key] !== expected) throw bad(`${field}.${key}`, `expected ${JSON.stringify(expected)}, got ${brief(value[key])}`);
  }
  const range = value.range;
  if (!Array.isArray(range) || range.length !== 2 || !range.every((v) => typeof v === "number" && Number.isFinite(v)) || !(range[0] < range[1])) {
    throw bad(`${field}.range`, `expected [low, high] with finite low < high, got ${brief(range)}`);
  }
  for (const key of ["source", "description"]) {
    if (typeof value[key] !== "string" || value[key].length > MAX_TEXT_LENGTH) {
      throw bad(`${field}.${key}`, `expected a text of at most ${MAX_TEXT_LENGTH} characters, got ${brief(value[key])}`);
    }
  }
}

function checkManifest(manifest: unknown, limits: LoadLimits, bad: Bad): { groups: CheckedGroup[]; entries: tf.io.WeightsManifestEntry[] } {
  if (!Array.isArray(manifest) || manifest.length === 0)
    throw bad("weightsManifest", `expected a non-empty array of { paths, weights }, got ${brief(manifest)}`);
  const seen = new Map<string, string>();
  const groups: CheckedGroup[] = [];
  const entries: tf.io.WeightsManifestEntry[] = [];
  let parameters = 0;
  manifest.forEach((group: unknown, g) => {
    if (!isObject(group) || !Array.isArray(group.paths) || !Array.isArray(group.weights))
      throw bad(`weightsManifest[${g}]`, "expected { paths: string[], weights: [...] }");
    group.paths.forEach((path, p) => {
      if (typeof path !== "string") throw bad(`weightsManifest[${g}].paths[${p}]`, `expected a string, got ${brief(path)}`);
    });
    let groupParameters = 0;
    group.weights.forEach((entry: unknown, w) => {
      const at = `weightsManifest[${g}].weights[${w}]`;
      if (!isObject(entry)) throw bad(at, `expected { name, shape, dtype: "float32" }, got ${brief(entry)}`);
      if (typeof entry.name !== "string" || entry.name.length === 0) throw bad(`${at}.name`, `expected a non-empty string, got ${brief(entry.name)}`);
      const earlier = seen.get(entry.name);
      if (earlier) throw bad(`${at}.name`, `duplicate weight name ${JSON.stringify(entry.name)} (also ${earlier})`);
      seen.set(entry.name, at);
      const shape = entry.shape;
      if (!Array.isArray(shape)) throw bad(`${at}.shape`, `expected an array of integers >= 0, got ${brief(shape)}`);
      if (shape.length > MAX_RANK || !shape.every((d) => isInteger(d, 0))) {
        throw bad(`${at}.shape`, `expected at most ${MAX_RANK} integers >= 0, got ${brief(shape)}`);
      }
      if (entry.dtype !== "float32") throw bad(`${at}.dtype`, `expected "float32" (the one dtype an export holds), got ${brief(entry.dtype)}`);
      if (entry.quantization !== undefined) throw bad(`${at}.quantization`, "expected no quantization (an export holds plain float32 values)");
      groupParameters += product(shape);
      entries.push(entry as unknown as tf.io.WeightsManifestEntry);
    });
    parameters += groupParameters;
    const bytes = groupParameters * FLOAT32_BYTES;
    const sizes = parameters <= limits.maxParameters ? shardSizes(bytes, group.paths.length) : undefined;
    if (parameters <= limits.maxParameters && !sizes) {
      throw bad(`weightsManifest[${g}].paths`, `expected shard paths that can hold the group's ${bytes} bytes, got ${group.paths.length} path(s)`);
    }
    groups.push({ paths: group.paths as string[], weights: group.weights as tf.io.WeightsManifestEntry[], bytes, shardSizes: sizes! });
  });
  if (parameters > limits.maxParameters) {
    throw bad(
      "weightsManifest",
      `the manifest's weights hold ${count(parameters)} parameters, above maxParameters ${limits.maxParameters} (pass a larger maxParameters to load it)`,
    );
  }
  return { groups, entries };
}

/** Product of the dimensions (exact below 2^53, which every cap is far under). */
export function product(shape: readonly number[]): number {
  return shape.reduce((total, d) => total * d, 1);
}

/** A count for messages: exact when it is, else "more than 2^53". */
export function count(value: number): string {
  return Number.isSafeInteger(value) ? String(value) : `more than ${Number.MAX_SAFE_INTEGER}`;
}

function isInteger(value: unknown, min: number): value is number {
  return typeof value === "number" && Number.isSafeInteger(value) && value >= min;
}

export function isObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === "object" && !Array.isArray(value);
}

/** A value for a message, cut short: an untrusted file may hold megabytes in one field. */
function brief(value: unknown): string {
  const text = value === undefined ? "nothing" : JSON.stringify(value);
  return text.length > 120 ? `${text.slice(0, 117)}...` : text;
}
