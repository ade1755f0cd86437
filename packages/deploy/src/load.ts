import * as tf from "@tensorflow/tfjs-core";
import { ConcordError, createRng, type InnerOptimizer, type Model, type ModelShape, type Objective, type Params } from "@concord/core";
import { createFromSpec, DEFAULT_PLUGINS, type MetaModelFactories } from "./factories.js";
import { filesReader } from "./files-reader.js";
import type { ConcordSection, NamedSpec } from "./format.js";
import { type LoadLimits, resolveLimits } from "./limits.js";
import { type CheckedGroup, type CheckedModelJson, count, isObject, parseModelJson, product } from "./model-json.js";
import { JSON_LIMIT, type MetaModelReader, tooLarge } from "./reader.js";
import { urlReader } from "./url-reader.js";

export { filesReader } from "./files-reader.js";
export { parseModelJson } from "./model-json.js";
export type { MetaModelReader } from "./reader.js";
export { urlReader } from "./url-reader.js";

/** A model ready for `adapt()`: run `adapt(params, support, { model, objective, innerOptimizer, innerSteps })`. */
export interface LoadedMetaModel {
  readonly model: Model;
  readonly objective: Objective;
  readonly innerOptimizer: InnerOptimizer;
  readonly innerSteps: number;
  /** The meta-learned initialisation; the caller owns (and disposes) these tensors. */
  readonly params: Params;
  /** The `concord` section of model.json. */
  readonly spec: ConcordSection;
}

/** A URL of model.json (or of its folder), a list of files (model.json and its shards), or a custom reader. */
export type MetaModelSource = string | URL | ArrayLike<File> | MetaModelReader;

/** Factories for names model.json may use, the caps on what it may claim (see LoadLimits), and an abort signal for URL sources. */
export interface MetaModelLoadOptions extends MetaModelFactories, Partial<LoadLimits> {
  readonly signal?: AbortSignal;
}

/**
 * Loads an export written by `concord export` / `saveMetaModel`. In a browser or Node: a URL is fetched
 * (shards relative to model.json and on its origin only); a File list (an <input type=file multiple>)
 * is read like tf.io.browserFiles reads it. For a folder path in Node use `@concord/deploy/node`.
 * Model, objective and inner-optimizer names resolve to the plug-in definitions of `options.plugins`
 * (e.g. the runner's registry with its --plugin definitions), by default to those of @concord/models
 * and @concord/optimizers.
 *
 * model.json is untrusted: everything it claims is checked against the caps (`options`, LoadLimits),
 * the weights manifest and the model it names before a tensor is allocated or a shard read, and every
 * shard must hold exactly the bytes the manifest implies. Every problem is a ConcordError naming the
 * file and field.
 */
export async function loadMetaModel(source: MetaModelSource, options: MetaModelLoadOptions = {}): Promise<LoadedMetaModel> {
  const limits = resolveLimits(options);
  return loadFromReader(toReader(source, limits, options.signal), options);
}

/**
 * Loads an export through `reader` (shared by every source), in this order: model.json (≤ maxModelJsonBytes)
 * → its checks (parseModelJson) → the plug-ins it names → the model's parameter shapes against the
 * manifest and maxParameters → every shard path located (refused paths and duplicates fail here) →
 * the shards, each of the size the manifest implies → the tensors.
 */
export async function loadFromReader(reader: MetaModelReader, options: MetaModelLoadOptions = {}): Promise<LoadedMetaModel> {
  const limits = resolveLimits(options);
  const text = await reader.readText(limits.maxModelJsonBytes);
  // A custom reader may ignore the cap; a string of n UTF-16 units holds at least n UTF-8 bytes.
  if (text.length > limits.maxModelJsonBytes)
    throw new ConcordError(tooLarge(limits.maxModelJsonBytes, JSON_LIMIT, `got ${text.length} characters`), { field: reader.label });
  const checked = parseModelJson(text, reader.label, limits);
  const spec = checked.json.concord;
  const at = (field: string) => `${reader.label}: ${field}`;
  const plugins = options.plugins ?? DEFAULT_PLUGINS;
  const model = createFromSpec<Model>("model", spec.model, plugins, options.models, at("concord.model"));
  const objective = createFromSpec<Objective>("objective", spec.objective, plugins, options.objectives, at("concord.objective"));
  const innerOptimizer = createFromSpec<InnerOptimizer>("innerOptimizer", spec.innerOptimizer, plugins, options.innerOptimizers, at("concord.innerOptimizer"));
  const definition = options.models && Object.hasOwn(options.models, spec.model.name) ? undefined : plugins.definition("model", spec.model.name);
  checkModel(model, definition?.shape?.(model), innerOptimizer, spec, checked, limits, at);
  const locations = locateShards(reader, checked.groups, at);
  const bytes = await readShards(reader, checked.groups, locations);
  const decoded = tf.io.decodeWeights(bytes.buffer as ArrayBuffer, [...checked.entries]);
  // Keep the manifest's order: it is the parameters' flattening order.
  const params: Record<string, tf.Tensor> = {};
  for (const entry of checked.entries) params[entry.name] = decoded[entry.name]!;
  return { model, objective, innerOptimizer, innerSteps: spec.innerSteps, params, spec };
}

/**
 * The model the file names must be what its manifest holds and what its spec says it takes: its
 * parameter count within maxParameters, its parameter names, order and shapes equal to the manifest's
 * (the model's, then the inner optimizer's own, e.g. Meta-SGD's rates), and (when its definition
 * states its shape) its input shape and output count equal to `inputShape` and `labelCount`.
 * Shapes come from `Model.parameterShapes` without allocating anything; a model without it is
 * initialised once (after the manifest passed its own checks) and the tensors are freed.
 */
function checkModel(
  model: Model,
  shape: ModelShape | undefined,
  innerOptimizer: InnerOptimizer,
  spec: ConcordSection,
  checked: CheckedModelJson,
  limits: LoadLimits,
  at: (field: string) => string,
): void {
  const modelShapes = model.parameterShapes ?? shapesByInit(model);
  checkShapes(modelShapes, model.name, limits, at);
  // The inner optimizer's own parameters (Meta-SGD's rates) follow the model's in the parameter map.
  const declared = { ...modelShapes, ...ownParameterShapes(innerOptimizer, modelShapes) };
  checkShapes(declared, model.name, limits, at);
  const names = Object.keys(declared);
  const given = checked.entries.map((entry) => entry.name);
  if (names.join("\n") !== given.join("\n")) {
    throw new ConcordError(`expected the parameters ${nameList(names)} in this order, got ${nameList(given)}`, { field: at("weightsManifest") });
  }
  checked.entries.forEach((entry, i) => {
    const shape = declared[entry.name]!;
    if (shape.join(",") !== entry.shape.join(",")) {
      throw new ConcordError(`expected shape [${shape}] for ${model.name}'s "${entry.name}", got [${entry.shape}]`, {
        field: at(`weightsManifest weights[${i}] "${entry.name}"`),
      });
    }
  });
  if (shape === undefined) return;
  if (shape.inputShape.join(",") !== spec.inputShape.join(",")) {
    throw new ConcordError(`expected [${shape.inputShape}] (the model's input), got [${spec.inputShape}]`, { field: at("concord.inputShape") });
  }
  if (shape.outputs > 0 && spec.labelCount !== null && spec.labelCount !== shape.outputs) {
    throw new ConcordError(`expected ${shape.outputs} (the model's outputs) or null, got ${spec.labelCount}`, { field: at("concord.labelCount") });
  }
}

/** Shapes must be integer arrays whose elements add up to at most maxParameters. */
function checkShapes(declared: unknown, name: string, limits: LoadLimits, at: (field: string) => string): asserts declared is Record<string, number[]> {
  if (!isObject(declared) || !Object.values(declared).every((shape) => Array.isArray(shape) && shape.every((d) => Number.isSafeInteger(d) && d >= 0))) {
    throw new ConcordError(`expected the model's parameterShapes to map names to shapes of integers, got ${typeof declared}`, { field: at("concord.model") });
  }
  const total = Object.values(declared as Record<string, number[]>).reduce((sum, shape) => sum + product(shape), 0);
  if (total > limits.maxParameters) {
    throw new ConcordError(
      `${name} with these options declares ${count(total)} parameters, above maxParameters ${limits.maxParameters} (pass a larger maxParameters to load it)`,
      {
        field: at("concord.model"),
      },
    );
  }
}

/** The shapes of the inner optimizer's own meta-learned parameters (Meta-SGD's `lr/<name>` rates), made once from zeros and freed. */
function ownParameterShapes(innerOptimizer: InnerOptimizer, modelShapes: Readonly<Record<string, readonly number[]>>): Record<string, number[]> {
  const own = innerOptimizer.ownParams;
  if (!own) return {};
  const zeros = Object.fromEntries(Object.entries(modelShapes).map(([name, shape]) => [name, tf.zeros([...shape])]));
  try {
    const created = own.init(zeros);
    try {
      return Object.fromEntries(Object.entries(created).map(([name, tensor]) => [name, [...tensor.shape]]));
    } finally {
      tf.dispose(Object.values(created));
    }
  } finally {
    tf.dispose(Object.values(zeros));
  }
}

/** Names for a message: a file can list millions, so at most 12 and the count. */
function nameList(names: readonly string[]): string {
  return names.length <= 12 ? names.join(", ") : `${names.slice(0, 12).join(", ")}, … (${names.length} in all)`;
}

function shapesByInit(model: Model): Record<string, number[]> {
  const params = model.init(createRng(0));
  try {
    return Object.fromEntries(Object.entries(params).map(([name, tensor]) => [name, [...tensor.shape]]));
  } finally {
    tf.dispose(Object.values(params));
  }
}

/** Every shard path's location, per group; a refused path or a second path to one shard is a ConcordError naming the manifest entry. */
function locateShards(reader: MetaModelReader, groups: readonly CheckedGroup[], at: (field: string) => string): string[][] {
  const seen = new Map<string, string>();
  return groups.map((group, g) =>
    group.paths.map((path, p) => {
      const field = at(`weightsManifest[${g}].paths[${p}]`);
      let location: string;
      try {
        location = reader.locateShard ? reader.locateShard(path) : path;
      } catch (error) {
        throw new ConcordError(`${(error as Error)?.message ?? String(error)}, got ${JSON.stringify(path)}`, { field, cause: error });
      }
      const earlier = seen.get(location);
      if (earlier) throw new ConcordError(`duplicate: ${JSON.stringify(path)} is the same shard as ${earlier} (each shard is read once)`, { field });
      seen.set(location, `weightsManifest[${g}].paths[${p}]`);
      return location;
    }),
  );
}

/** Reads every shard, each allowed only the bytes the manifest implies (see shard-sizes.ts), into one buffer. */
async function readShards(reader: MetaModelReader, groups: readonly CheckedGroup[], locations: readonly string[][]): Promise<Uint8Array> {
  const bytes = new Uint8Array(groups.reduce((sum, group) => sum + group.bytes, 0));
  let offset = 0;
  for (const [g, group] of groups.entries()) {
    let first = 0;
    for (const [p, path] of group.paths.entries()) {
      const range = p === 0 ? group.shardSizes.first : { min: group.shardSizes.later(first, p), max: group.shardSizes.later(first, p) };
      let shard: Uint8Array;
      try {
        shard = await reader.readShard(path, range.max);
      } catch (error) {
        if (error instanceof ConcordError) throw error;
        throw new ConcordError(`cannot read weight shard (${(error as Error)?.message ?? String(error)})`, { field: locations[g]![p], cause: error });
      }
      if (shard.byteLength < range.min || shard.byteLength > range.max) {
        const expected = range.min === range.max ? `${range.min}` : `${range.min} to ${range.max}`;
        throw new ConcordError(`expected ${expected} bytes (what the manifest implies), got ${shard.byteLength}`, { field: locations[g]![p] });
      }
      if (p === 0) first = shard.byteLength;
      bytes.set(shard, offset);
      offset += shard.byteLength;
    }
  }
  return bytes;
}

function toReader(source: MetaModelSource, limits: LoadLimits, signal: AbortSignal | undefined): MetaModelReader {
  if (typeof source === "string" || source instanceof URL) return urlReader(source, { timeoutMs: limits.timeoutMs, signal });
  if (isReader(source)) return source;
  return filesReader(source);
}

function isReader(source: unknown): source is MetaModelReader {
  return isObject(source) && typeof source.readText === "function" && typeof source.readShard === "function";
}

export type { NamedSpec };
