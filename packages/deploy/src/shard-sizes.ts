/**
 * The byte sizes a weights group's shards must have. tf.io writers (tfjs-converter, Concord's
 * metaModelArtifacts) cut a group's T bytes into n shards of S bytes each except the last, which holds
 * the rest: 1 ≤ T − (n − 1)·S ≤ S. The manifest gives T (its weights' shapes × 4 bytes) and n (its paths),
 * so S is pinned to ceil(T / n) ≤ S ≤ ceil(T / (n − 1)) − 1, and once the first shard shows S every
 * other shard's size is exact. With n = 1 the one shard holds exactly T bytes.
 */
export interface ShardSizes {
  /** Smallest and largest size the first shard may have (equal when n = 1). */
  readonly first: { readonly min: number; readonly max: number };
  /** Exact size of shard `index` (≥ 1) once the first shard held `firstBytes`. */
  later(firstBytes: number, index: number): number;
}

/** The sizes for `groupBytes` cut into `shardCount` shards, or undefined when no cut gives that many shards. */
export function shardSizes(groupBytes: number, shardCount: number): ShardSizes | undefined {
  if (shardCount < 1) return undefined;
  if (shardCount === 1) return { first: { min: groupBytes, max: groupBytes }, later: () => 0 };
  const min = Math.ceil(groupBytes / shardCount);
  const max = Math.ceil(groupBytes / (shardCount - 1)) - 1;
  if (min < 1 || min > max) return undefined;
  return {
    first: { min, max },
    later: (firstBytes, index) => (index < shardCount - 1 ? firstBytes : groupBytes - (shardCount - 1) * firstBytes),
  };
}
