// Which comparison owns a run folder. Workers write `<their store>/<folder>`, so two coordinators
// whose --out folders have the same path relative to their stores would have workers train both into
// one folder; and with job ids made from the folder alone, the second would join the first's jobs.
import { createHash } from "node:crypto";
import { ConcordError } from "@concord/core";
import { configToJson, type ExperimentConfig } from "@concord/runner";
import type { Redis } from "ioredis";

/** A planned run as the queue knows it. */
export interface RunIdentity {
  /** The folder relative to the store (what workers write to). */
  readonly folder: string;
  /** The store as the coordinator resolves it (absolute). */
  readonly store: string;
  /** SHA-256 (hex) of the run's config in configToJson form. */
  readonly configHash: string;
  /** BullMQ job id: from store, folder and config, so only the same run joins the same job. */
  readonly jobId: string;
}

const sha256 = (text: string) => createHash("sha256").update(text).digest("hex");

export function runIdentity(store: string, folder: string, config: ExperimentConfig): RunIdentity {
  const configHash = sha256(JSON.stringify(configToJson(config)));
  return { folder, store, configHash, jobId: `run-${sha256(JSON.stringify([store, folder, configHash])).slice(0, 32)}` };
}

/** Redis key holding the owner of a run folder (no TTL: it must outlive a dead coordinator for --resume). */
export function runFolderClaimKey(folder: string): string {
  return `concord:runs:folder:${sha256(folder).slice(0, 32)}`;
}

const owner = (identity: RunIdentity) => JSON.stringify({ store: identity.store, configHash: identity.configHash, folder: identity.folder });

/**
 * Claims every run folder for this comparison (SET NX each; a folder already claimed by the same
 * store and config is this comparison's own, e.g. after `--resume`). Any folder claimed by another
 * store or config is refused with both owners named, and the claims made here are undone.
 */
export async function claimRunFolders(redis: Redis, identities: readonly RunIdentity[]): Promise<void> {
  const made: RunIdentity[] = [];
  for (const identity of identities) {
    const key = runFolderClaimKey(identity.folder);
    if ((await redis.set(key, owner(identity), "NX")) === "OK") {
      made.push(identity);
      continue;
    }
    const current = await redis.get(key);
    if (current === owner(identity)) continue;
    await releaseRunFolders(redis, made);
    const other = current === null ? undefined : (JSON.parse(current) as { store?: string; configHash?: string });
    const same = other?.store === identity.store ? "the same store" : `store ${JSON.stringify(other?.store)}`;
    throw new ConcordError(
      `the run folder ${JSON.stringify(identity.folder)} (relative to the workers' store) belongs to another comparison on this Redis (${same}, config ${other?.configHash?.slice(0, 12) ?? "?"}; this one: store ${JSON.stringify(identity.store)}, config ${identity.configHash.slice(0, 12)}); workers would train both into one folder. Choose another --out, or wait until that comparison finishes (a comparison stopped for good: remove its queued jobs, then the claim, redis-cli DEL ${key})`,
      { field: "--out" },
    );
  }
}

/** Releases the claims this comparison holds (only those whose owner is still this comparison). */
export async function releaseRunFolders(redis: Redis, identities: readonly RunIdentity[]): Promise<void> {
  for (const identity of identities) {
    const key = runFolderClaimKey(identity.folder);
    // Compare-and-delete in one step, so a claim another comparison made since is never removed.
    await redis.eval('if redis.call("GET", KEYS[1]) == ARGV[1] then return redis.call("DEL", KEYS[1]) else return 0 end', 1, key, owner(identity));
  }
}
