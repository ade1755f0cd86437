import * as tf from "@tensorflow/tfjs-core";
import { ConcordError, createRng, type InnerOptimizer, type Model, type Objective, type Params } from "@concord/core";
import { BUILTIN_FACTORIES, createFromSpec, type MetaModelFactories } from "./factories.js";
import { type ConcordSection, META_MODEL_FORMAT, META_MODEL_FORMAT_VERSION, type MetaModelJson, MODEL_JSON, type NamedSpec } from "./format.js";

/** Where an export's files come from: model.json and its shards by the paths the manifest gives. */
export interface MetaModelReader {
  /** Names the model.json file in error messages (a URL, a path or a file name). */
  readonly label: string;
  readText(): Promise<string>;
  readShard(path: string): Promise<Uint8Array>;
}

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

/**
 * Loads an export written by `concord export` / `saveMetaModel`. In a browser or Node: a URL is fetched
 * (shards relative to model.json, as tf.io.http resolves them); a File list (an <input type=file multiple>)
 * is read like tf.io.browserFiles reads it. For a folder path in Node use `@concord/deploy/node`.
 * Built-in model, objective and inner-optimizer names resolve to @concord/models and @concord/optimizers;
 * `factories` adds others. Every problem (unreadable or invalid model.json, missing shard, parameter of
 * the wrong shape, unknown name, other format version) is a ConcordError naming the file and field.
 */
export async function loadMetaModel(source: MetaModelSource, factories: MetaModelFactories = {}): Promise<LoadedMetaModel> {
  return loadFromReader(toReader(source), factories);
}

/** Loads an export through `reader` (shared by every source). */
export async function loadFromReader(reader: MetaModelReader, factories: MetaModelFactories = {}): Promise<LoadedMetaModel> {
  const json = parseModelJson(await reader.readText(), reader.label);
  const spec = json.concord;
  const at = (field: string) => `${reader.label}: ${field}`;
  const model = createFromSpec(spec.model, BUILTIN_FACTORIES.models, factories.models, at("concord.model.name"));
  const objective = createFromSpec(spec.objective, BUILTIN_FACTORIES.objectives, factories.objectives, at("concord.objective.name"));
  const innerOptimizer = createFromSpec(spec.innerOptimizer, BUILTIN_FACTORIES.innerOptimizers, factories.innerOptimizers, at("concord.innerOptimizer.name"));

  const groups = json.weightsManifest;
  const entries = groups.flatMap((group) => group.weights);
  const paths = groups.flatMap((group) => group.paths);
  const shards: Uint8Array[] = [];
  for (const path of paths) {
    try {
      shards.push(await reader.readShard(path));
    } catch (error) {
      if (error instanceof ConcordError) throw error;
      throw new ConcordError(`cannot read weight shard (${(error as Error)?.message ?? String(error)})`, { field: path, cause: error });
    }
  }
  const expected = entries.reduce((sum, entry) => sum + 4 * sizeOf(entry.shape), 0);
  const actual = shards.reduce((sum, shard) => sum + shard.byteLength, 0);
  if (actual !== expected) {
    throw new ConcordError(`expected ${expected} weight bytes for the manifest's ${entries.length} weights, the shards ${paths.join(", ")} hold ${actual}`, {
      field: at("weightsManifest"),
    });
  }
  checkShapes(model, entries, at);
  const bytes = new Uint8Array(actual);
  let offset = 0;
  for (const shard of shards) {
    bytes.set(shard, offset);
    offset += shard.byteLength;
  }
  const decoded = tf.io.decodeWeights(bytes.buffer, entries);
  // Keep the manifest's order: it is the parameters' flattening order.
  const params: Record<string, tf.Tensor> = {};
  for (const entry of entries) params[entry.name] = decoded[entry.name]!;
  return { model, objective, innerOptimizer, innerSteps: spec.innerSteps, params, spec };
}

/** Validates model.json text; errors name `label` and the field. */
export function parseModelJson(text: string, label: string): MetaModelJson {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (error) {
    throw new ConcordError(`expected valid JSON, got a syntax error: ${(error as Error).message}`, { field: label, cause: error });
  }
  const bad = (field: string, message: string) => new ConcordError(message, { field: `${label}: ${field}` });
  if (!isObject(raw)) throw bad("(top level)", "expected a JSON object");
  if (raw.format !== META_MODEL_FORMAT) throw bad("format", `expected "${META_MODEL_FORMAT}", got ${JSON.stringify(raw.format)}`);
  const concord = raw.concord;
  if (!isObject(concord)) throw bad("concord", "expected the concord section (an object), got nothing");
  if (concord.formatVersion !== META_MODEL_FORMAT_VERSION) {
    throw bad("concord.formatVersion", `expected ${META_MODEL_FORMAT_VERSION}, got ${JSON.stringify(concord.formatVersion)} (re-export the model with this version of Concord)`);
  }
  for (const key of ["model", "objective", "innerOptimizer"] as const) {
    const spec = concord[key];
    if (!isObject(spec) || typeof spec.name !== "string" || !isObject(spec.options)) {
      throw bad(`concord.${key}`, `expected { name: string, options: object }, got ${JSON.stringify(spec)}`);
    }
  }
  const innerSteps = concord.innerSteps;
  if (typeof innerSteps !== "number" || !Number.isInteger(innerSteps) || innerSteps < 0) {
    throw bad("concord.innerSteps", `expected an integer >= 0, got ${JSON.stringify(innerSteps)}`);
  }
  const manifest = raw.weightsManifest;
  if (!Array.isArray(manifest) || manifest.length === 0) throw bad("weightsManifest", `expected a non-empty array of { paths, weights }, got ${JSON.stringify(manifest)}`);
  manifest.forEach((group: unknown, g) => {
    if (!isObject(group) || !Array.isArray(group.paths) || !group.paths.every((p) => typeof p === "string") || !Array.isArray(group.weights)) {
      throw bad(`weightsManifest[${g}]`, "expected { paths: string[], weights: [...] }");
    }
    group.weights.forEach((entry: unknown, w) => {
      const ok =
        isObject(entry) &&
        typeof entry.name === "string" &&
        Array.isArray(entry.shape) &&
        entry.shape.every((d) => Number.isInteger(d) && d >= 0) &&
        entry.dtype === "float32" &&
        entry.quantization === undefined;
      if (!ok) throw bad(`weightsManifest[${g}].weights[${w}]`, `expected { name, shape, dtype: "float32" } without quantization, got ${JSON.stringify(entry)}`);
    });
  });
  return raw as unknown as MetaModelJson;
}

function checkShapes(model: Model, entries: readonly tf.io.WeightsManifestEntry[], at: (field: string) => string): void {
  // The model's own parameter shapes: initialise once (cheap for these models) and compare.
  const reference = model.init(createRng(0));
  try {
    const names = Object.keys(reference);
    const given = entries.map((entry) => entry.name);
    if (names.join("\n") !== given.join("\n")) {
      throw new ConcordError(`expected the parameters ${names.join(", ")} in this order, got ${given.join(", ")}`, { field: at("weightsManifest") });
    }
    entries.forEach((entry, i) => {
      const shape = reference[entry.name]!.shape;
      if (shape.join(",") !== entry.shape.join(",")) {
        throw new ConcordError(`expected shape [${shape}] for ${model.name}'s "${entry.name}", got [${entry.shape}]`, {
          field: at(`weightsManifest weights[${i}] "${entry.name}"`),
        });
      }
    });
  } finally {
    tf.dispose(Object.values(reference));
  }
}

function toReader(source: MetaModelSource): MetaModelReader {
  if (typeof source === "string" || source instanceof URL) return urlReader(source);
  if (isReader(source)) return source;
  return filesReader(source);
}

function isReader(source: unknown): source is MetaModelReader {
  return isObject(source) && typeof source.readText === "function" && typeof source.readShard === "function";
}

/** model.json at `url` (or `url`/model.json when it does not end in .json); shards beside it. */
export function urlReader(url: string | URL): MetaModelReader {
  const text = String(url);
  const jsonUrl = /\.json([?#].*)?$/.test(text) ? text : `${text.replace(/\/?$/, "/")}${MODEL_JSON}`;
  // In a page a relative URL is relative to the page; in Node it must be absolute.
  const page = (globalThis as { location?: { href: string } }).location;
  const base = page ? new URL(jsonUrl, page.href).href : jsonUrl;
  const fetchOk = async (target: string): Promise<Response> => {
    let response: Response;
    try {
      response = await fetch(target);
    } catch (error) {
      throw new ConcordError(`cannot fetch (${(error as Error).message})`, { field: target, cause: error });
    }
    if (!response.ok) throw new ConcordError(`cannot fetch (HTTP ${response.status} ${response.statusText})`, { field: target });
    return response;
  };
  return {
    label: jsonUrl,
    readText: async () => (await fetchOk(base)).text(),
    readShard: async (path) => new Uint8Array(await (await fetchOk(new URL(path, base).href)).arrayBuffer()),
  };
}

/** model.json and its shards among `files`, matched by file name as tf.io.browserFiles does. */
export function filesReader(files: ArrayLike<File>): MetaModelReader {
  const list = Array.from(files);
  const json = list.find((file) => file.name.endsWith(".json"));
  if (!json) throw new ConcordError(`expected a model.json among the files, got ${list.map((file) => file.name).join(", ") || "none"}`, { field: MODEL_JSON });
  return {
    label: json.name,
    readText: () => json.text(),
    readShard: async (path) => {
      const name = path.split("/").pop()!;
      const file = list.find((candidate) => candidate.name === name);
      if (!file) throw new ConcordError("weight shard missing from the selected files", { field: name });
      return new Uint8Array(await file.arrayBuffer());
    },
  };
}

function sizeOf(shape: readonly number[]): number {
  return shape.reduce((product, d) => product * d, 1);
}

function isObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === "object" && !Array.isArray(value);
}

export type { NamedSpec };
