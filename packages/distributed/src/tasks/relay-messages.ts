// Messages between a queue pool (the training thread) and its relay thread (the BullMQ client).
import type { TaskChunkPayload } from "./protocol.js";

export interface RelayStart {
  readonly url: string;
  readonly queueName: string;
  /** Give up (the meta-step fails, the last checkpoint stays) when Redis has been unreachable this long. */
  readonly timeoutMs: number;
  /** Lifetime of θ / tasks / results in Redis. */
  readonly ttlMs: number;
  /** BullMQ `attempts` of each chunk job (errors thrown by a worker; deaths count on the workers). */
  readonly maxAttempts: number;
  readonly signal: Int32Array;
}

/** One meta-step's chunks: θ once, each chunk's tasks, the job payloads. */
export interface RelayDispatch {
  readonly step: number;
  readonly theta: Uint8Array;
  readonly chunks: readonly { readonly payload: TaskChunkPayload; readonly tasks: Uint8Array }[];
}

/** Each chunk's packed TaskJobResult in chunk order, or why the step failed. */
export type RelayReply =
  | {
      readonly step: number;
      readonly ok: true;
      readonly results: Uint8Array[];
      readonly bytesDown: number;
      readonly bytesUp: number;
      readonly resubmitted: number;
      readonly takenOver: number;
      /** The longest time from queueing a chunk to reading its result (the next step's deadline is derived from it). */
      readonly slowestChunkMs: number;
    }
  | { readonly step: number; readonly ok: false; readonly message: string };
