import * as tf from "@tensorflow/tfjs-core";
import { ConcordError, createRng, type InnerOptimizer, type Model, type Objective, type Params } from "@concord/core";
import { BUILTIN_FACTORIES, createFromSpec, type MetaModelFactories } from "./factories.js";
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
 * Built-in model, objective and inner-optimizer names resolve to @concord/models and @concord/optimizers;
 * `options` adds others.
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
  if (text.length > limits.maxModelJsonBytes) throw new ConcordError(tooLarge(limits.maxModelJsonBytes, JSON_LIMIT, `got ${text.length} characters`), { field: reader.label });
  const checked = parseModelJson(text, reader.label, limits);
  const spec = checked.json.concord;
  const at = (field: string) => `${reader.label}: ${field}`;
  const model = createFromSpec(spec.model, BUILTIN_FACTORIES.models, options.models, at("concord.model"));
  const objective = createFromSpec(spec.objective, BUILTIN_FACTORIES.objectives, options.objectives, at("concord.objective"));
  const innerOptimizer = createFromSpec(spec.innerOptimizer, BUILTIN_FACTORIES.innerOptimizers, options.innerOptimizers, at("concord.innerOptimizer"));
  checkModel(model, spec, checked, limits, at);
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
 * parameter count within maxParameters, its parameter names, order and shapes equal to the manifest's,
 * and (for models that tell) its input shape and output count equal to `inputShape` and `labelCount`.
 * Shapes come from `Model.parameterShapes` without allocating anything; a model without it is
 * initialised once (after the manifest passed its own checks) and the tensors are freed.
 */
function checkModel(model: Model, spec: ConcordSection, checked: CheckedModelJson, limits: LoadLimits, at: (field: string) => string): void {
  const declared = model.parameterShapes ?? shapesByInit(model);
  if (!isObject(declared) || !Object.values(declared).every((shape) => Array.isArray(shape) && shape.every((d) => Number.isSafeInteger(d) && d >= 0))) {
    throw new ConcordError(`expected the model's parameterShapes to map names to shapes of integers, got ${typeof declared}`, { field: at("concord.model") });
  }
  const total = Object.values(declared).reduce((sum, shape) => sum + product(shape), 0);
  if (total > limits.maxParameters) {
    throw new ConcordError(`${model.name} with these options declares ${count(total)} parameters, above maxParameters ${limits.maxParameters} (pass a larger maxParameters to load it)`, {
      field: at("concord.model"),
    });
  }
  const names = Object.keys(declared);
  const given = checked.entries.map((entry) => entry.name);
  if (names.join("\n") !== given.join("\n")) {
    throw new ConcordError(`expected the parameters ${nameList(names)} in this order, got ${nameList(given)}`, { field: at("weightsManifest") });
  }
  checked.entries.forEach((entry, i) => {
    const shape = declared[entry.name]!;
    if (shape.join(",") !== entry.shape.join(",")) {
      throw new ConcordError(`expected shape [${shape}] for ${model.name}'s "${entry.name}", got [${entry.shape}]`, { field: at(`weightsManifest weights[${i}] "${entry.name}"`) });
    }
  });
  const input = modelInputShape(model);
  if (input && input.join(",") !== spec.inputShape.join(",")) {
    throw new ConcordError(`expected [${input}] (the model's input), got [${spec.inputShape}]`, { field: at("concord.inputShape") });
  }
  const outputs = modelOutputCount(model);
  if (outputs !== undefined && spec.labelCount !== null && spec.labelCount !== outputs) {
    throw new ConcordError(`expected ${outputs} (the model's outputs) or null, got ${spec.labelCount}`, { field: at("concord.labelCount") });
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

/** The input shape a model states (convNet's inputShape, an MLP's first size), if it states one. */
function modelInputShape(model: Model): readonly number[] | undefined {
  const { inputShape, sizes } = model as { inputShape?: unknown; sizes?: unknown };
  if (Array.isArray(inputShape)) return inputShape;
  if (Array.isArray(sizes) && sizes.length > 0) return [sizes[0]];
  return undefined;
}

/** The number of outputs a model states (convNet's ways, an MLP's last size), if it states one (an embedding network, ways 0, does not). */
function modelOutputCount(model: Model): number | undefined {
  const { ways, sizes } = model as { ways?: unknown; sizes?: unknown };
  if (typeof ways === "number") return ways > 0 ? ways : undefined;
  if (Array.isArray(sizes) && typeof sizes.at(-1) === "number") return sizes.at(-1);
  return undefined;
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
