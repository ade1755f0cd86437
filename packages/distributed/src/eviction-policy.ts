// Redis must keep what Concord writes until Concord deletes it. θ, task and result keys carry TTLs,
// so every volatile-* policy evicts them first under memory pressure (and allkeys-* may evict queue
// state): a coordinator would then wait for data that no longer exists. Checked once at start.
import { ConcordError } from "@concord/core";
import { Redis } from "ioredis";
import type { RedisTarget } from "./connection.js";

export interface EvictionPolicyOptions {
  /** Run on a server whose policy may evict keys, with a warning instead of a refusal (`--allow-eviction`). */
  readonly allowEviction?: boolean;
  /** Receives the warning lines. */
  readonly warn: (line: string) => void;
  readonly field?: string;
}

/** What the check found: the policy, or why it could not be read. */
export type EvictionPolicy = { readonly policy: string } | { readonly unreadable: string };

/**
 * Reads `maxmemory-policy` (CONFIG GET) and refuses anything but `noeviction` with a ConcordError
 * naming the policy and the fix, unless `allowEviction` (then a warning). A server that refuses
 * CONFIG (renamed away, or an ACL user without it) cannot be checked: a warning says so.
 */
export async function checkEvictionPolicy(target: RedisTarget, options: EvictionPolicyOptions): Promise<EvictionPolicy> {
  const field = options.field ?? "--queue";
  const client = new Redis({ ...target.options, lazyConnect: true, maxRetriesPerRequest: 1, retryStrategy: () => null, connectTimeout: 5000 });
  client.on("error", () => {});
  let found: EvictionPolicy;
  try {
    await client.connect();
    const reply = (await client.config("GET", "maxmemory-policy")) as string[];
    found = reply.length >= 2 && typeof reply[1] === "string" ? { policy: reply[1] } : { unreadable: `CONFIG GET returned ${JSON.stringify(reply)}` };
  } catch (error) {
    found = { unreadable: `CONFIG GET was refused: ${(error as Error).message}` };
  } finally {
    client.disconnect();
  }
  if ("unreadable" in found) {
    options.warn(
      `warning: ${field}: cannot check Redis's maxmemory-policy at ${target.display} (${found.unreadable}); make sure it is noeviction, or lost θ, task and result keys will stall and resubmit meta-steps`,
    );
    return found;
  }
  if (found.policy === "noeviction") return found;
  const what =
    `Redis at ${target.display} has maxmemory-policy ${found.policy}: under memory pressure it deletes keys, ` +
    `${found.policy.startsWith("volatile-") ? "first of all Concord's θ, task and result keys (they carry TTLs)" : "Concord's data and queue state included"}`;
  if (options.allowEviction) {
    options.warn(`warning: ${field}: ${what}; running anyway (--allow-eviction): evicted chunks are resubmitted, evicted run jobs stop their comparison`);
    return found;
  }
  throw new ConcordError(
    `${what}; set it to noeviction (redis-cli CONFIG SET maxmemory-policy noeviction, and maxmemory-policy noeviction in redis.conf), or pass --allow-eviction to run anyway`,
    { field },
  );
}
