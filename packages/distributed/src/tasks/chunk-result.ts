// What a worker writes back for one chunk, and the coordinator's check of it. The coordinator places
// results by task index and feeds them to the weighting and the outer optimizer, so a result it did
// not ask for (another chunk's indices, a parameter renamed or reshaped, int32 bytes where float32
// belong, computed from other inputs) must stop the meta-step, not be used.
import { createHash } from "node:crypto";
import { ConcordError } from "@concord/core";
import type { TaskJobResult, WireParams, WireTensor } from "@concord/algorithms/node";
import type { TaskChunkPayload } from "./protocol.js";

/** A chunk's result as the worker writes it (packed): which chunk, from which inputs, and the tasks' results. */
export interface ChunkResultEnvelope {
  readonly session: string;
  readonly step: number;
  readonly chunk: number;
  /** SHA-256 (hex) of the θ bytes and of the chunk's task bytes the worker computed from. */
  readonly inputs: { readonly theta: string; readonly tasks: string };
  readonly result: TaskJobResult;
}

/** θ's layout as the coordinator sent it: each parameter's name, shape and dtype, in order. */
export type ParamLayout = readonly { readonly name: string; readonly shape: readonly number[]; readonly dtype: string }[];

/** What the coordinator asked of one chunk. */
export interface ChunkExpectation {
  readonly payload: TaskChunkPayload;
  readonly layout: ParamLayout;
  readonly inputs: { readonly theta: string; readonly tasks: string };
}

export function sha256Hex(bytes: Uint8Array): string {
  return createHash("sha256").update(bytes).digest("hex");
}

export function paramLayout(params: WireParams): ParamLayout {
  return params.map(([name, tensor]) => ({ name, shape: [...tensor.shape], dtype: tensor.dtype }));
}

/** The worker's side: wraps runTaskJob's result with the chunk it answers and digests of what it read. */
export function chunkResultEnvelope(payload: TaskChunkPayload, theta: Uint8Array, tasks: Uint8Array, result: TaskJobResult): ChunkResultEnvelope {
  return { session: payload.session, step: payload.step, chunk: payload.chunk, inputs: { theta: sha256Hex(theta), tasks: sha256Hex(tasks) }, result };
}

/**
 * The coordinator's side: returns the tasks' results after checking that the envelope answers this
 * chunk (session, step, chunk, digests of the θ and tasks it was sent), that `indices` are exactly
 * start…end−1, and that every θ'_i and G_i has θ's names, order, shapes and dtypes, each L_query_i
 * one float32, and nothing else is there. Makes no tensors, so a refusal leaks nothing. Values are
 * not judged: a NaN is what the single-process run would have too (the gradient guard handles it).
 */
export function checkChunkResult(envelope: unknown, expected: ChunkExpectation): TaskJobResult {
  const { payload } = expected;
  const refuse = (what: string) =>
    new ConcordError(`the result of chunk ${payload.chunk} of step ${payload.step} (tasks ${payload.start}–${payload.end - 1}) is refused: ${what}`, {
      field: "--queue",
    });
  const record = asRecord(envelope, ["session", "step", "chunk", "inputs", "result"], "the envelope", refuse);
  if (record.session !== payload.session || record.step !== payload.step || record.chunk !== payload.chunk) {
    throw refuse(`it answers session ${JSON.stringify(record.session)} step ${JSON.stringify(record.step)} chunk ${JSON.stringify(record.chunk)}`);
  }
  const inputs = asRecord(record.inputs, ["theta", "tasks"], "inputs", refuse);
  if (inputs.theta !== expected.inputs.theta) throw refuse("it was computed from another θ than this step's");
  if (inputs.tasks !== expected.inputs.tasks) throw refuse("it was computed from other tasks than this chunk's");

  const result = asRecord(record.result, ["indices", "adapted", "taskGradients", "queryLosses"], "result", refuse);
  const count = payload.end - payload.start;
  const indices = result.indices;
  if (!Array.isArray(indices) || indices.length !== count || !indices.every((index, i) => index === payload.start + i)) {
    throw refuse(`indices are ${JSON.stringify(indices)}, expected ${payload.start} to ${payload.end - 1} in order`);
  }
  checkParamsList(result.adapted, "adapted", count, expected.layout, refuse);
  if (payload.kind === "none") {
    if (result.taskGradients !== undefined || result.queryLosses !== undefined) throw refuse(`a "none" chunk has no task gradients or query losses`);
  } else {
    checkParamsList(result.taskGradients, "taskGradients", count, expected.layout, refuse);
    const losses = result.queryLosses;
    if (!Array.isArray(losses) || losses.length !== count) throw refuse(`queryLosses: expected ${count} entries`);
    losses.forEach((loss, i) => checkTensor(loss, `queryLosses[${i}]`, [1], "float32", refuse));
  }
  return record.result as TaskJobResult;
}

type Refuse = (what: string) => ConcordError;

function asRecord(value: unknown, keys: readonly string[], what: string, refuse: Refuse): Record<string, unknown> {
  if (typeof value !== "object" || value === null || Array.isArray(value)) throw refuse(`${what} is not an object`);
  const extra = Object.keys(value).find((key) => !keys.includes(key));
  if (extra !== undefined) throw refuse(`${what} has an unexpected field ${JSON.stringify(extra)}`);
  return value as Record<string, unknown>;
}

function checkParamsList(value: unknown, what: string, count: number, layout: ParamLayout, refuse: Refuse): void {
  if (!Array.isArray(value) || value.length !== count) throw refuse(`${what}: expected ${count} entries`);
  value.forEach((params: unknown, task) => {
    if (!Array.isArray(params) || params.length !== layout.length) throw refuse(`${what}[${task}]: expected ${layout.length} parameters`);
    layout.forEach((spec, i) => {
      const entry = params[i] as unknown;
      if (!Array.isArray(entry) || entry.length !== 2 || entry[0] !== spec.name) {
        throw refuse(`${what}[${task}] parameter ${i} is ${JSON.stringify(Array.isArray(entry) ? entry[0] : entry)}, expected "${spec.name}"`);
      }
      checkTensor(entry[1], `${what}[${task}] "${spec.name}"`, spec.shape, spec.dtype, refuse);
    });
  });
}

const DATA_TYPES: Record<string, new (length: number) => ArrayBufferView> = { float32: Float32Array, int32: Int32Array, bool: Uint8Array };

function checkTensor(value: unknown, what: string, shape: readonly number[], dtype: string, refuse: Refuse): void {
  const tensor = value as Partial<WireTensor> | null;
  if (typeof tensor !== "object" || tensor === null) throw refuse(`${what} is not a tensor`);
  if (tensor.dtype !== dtype || !(tensor.data instanceof (DATA_TYPES[dtype] ?? Float32Array)))
    throw refuse(`${what} has dtype ${JSON.stringify(tensor.dtype)}, expected ${dtype}`);
  const actual = tensor.shape;
  if (!Array.isArray(actual) || actual.length !== shape.length || !actual.every((size, i) => size === shape[i])) {
    throw refuse(`${what} has shape ${JSON.stringify(actual)}, expected ${JSON.stringify(shape)}`);
  }
  const length = shape.reduce((a, b) => a * b, 1);
  if ((tensor.data as ArrayBufferView & { length: number }).length !== length)
    throw refuse(`${what} holds ${(tensor.data as { length: number }).length} numbers, expected ${length}`);
}
