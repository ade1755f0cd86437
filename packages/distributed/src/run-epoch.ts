// The epoch a worker writes a run folder under. Each start of a run's job (the first, and every
// takeover after a worker lost the job's lock) takes a new one from Redis, greater than any before it,
// and writes it into the folder's lease; the writer of an older epoch then writes nothing more.
import { createHash } from "node:crypto";
import type { Redis } from "ioredis";

/** Redis key of a run folder's epoch counter (by its folder relative to the store, like its claim). */
export function runEpochKey(folder: string): string {
  return `concord:runs:epoch:${createHash("sha256").update(folder).digest("hex").slice(0, 32)}`;
}

// INCR, but never at or below the epoch the folder's lease already names: a counter lost with Redis
// (FLUSHALL, a restart without persistence) must not hand out an epoch a stale writer still holds.
const TAKE_EPOCH = `
local epoch = redis.call("INCR", KEYS[1])
local floor = tonumber(ARGV[1])
if epoch <= floor then
  epoch = floor + 1
  redis.call("SET", KEYS[1], epoch)
end
return epoch`;

/** A new epoch for the run folder `folder`, greater than `leaseEpoch` (the lease's current one, 0 if none) and than every epoch Redis handed out for it. */
export async function takeRunEpoch(redis: Redis, folder: string, leaseEpoch: number): Promise<number> {
  return Number(await redis.eval(TAKE_EPOCH, 1, runEpochKey(folder), String(leaseEpoch)));
}
