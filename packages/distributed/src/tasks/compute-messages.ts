import type { TaskChunkPayload } from "./protocol.js";

/** A validated chunk with its θ and tasks (packed), for the compute thread. */
export interface ComputeRequest {
  readonly id: number;
  readonly payload: TaskChunkPayload;
  readonly theta: Uint8Array;
  readonly tasks: Uint8Array;
}

export type ComputeReply =
  | { readonly id: number; readonly ok: true; readonly result: Uint8Array }
  | { readonly id: number; readonly ok: false; readonly message: string; readonly badInput: boolean };
