import { expectInteger } from "@concord/core";

/**
 * What one export may claim or cost before the loader refuses it. model.json is untrusted input (a URL,
 * a dropped file): without caps a 200-byte file could make the loader allocate or download gigabytes.
 */
export interface LoadLimits {
  /** Most float32 parameters, counted in the manifest and in the model the file declares. Default 2^26 (67 108 864 = 256 MiB). */
  readonly maxParameters: number;
  /** Largest model.json in bytes. Default 4 MiB. */
  readonly maxModelJsonBytes: number;
  /** Largest `innerSteps` (what `adapt()` will run). Default 1000. */
  readonly maxInnerSteps: number;
  /** Most elements in one input example (`inputShape`, preprocessing `size`). Default 2^24. */
  readonly maxInputElements: number;
  /** Per-file time limit for URL sources (fetch and body), in ms. Default 60 000. */
  readonly timeoutMs: number;
}

export const DEFAULT_LOAD_LIMITS: LoadLimits = {
  maxParameters: 2 ** 26,
  maxModelJsonBytes: 4 * 1024 * 1024,
  maxInnerSteps: 1000,
  maxInputElements: 2 ** 24,
  timeoutMs: 60_000,
};

/** The defaults overridden by `options`; each given limit must be a positive integer (ConcordError naming it). */
export function resolveLimits(options: Partial<LoadLimits>): LoadLimits {
  const limits = { ...DEFAULT_LOAD_LIMITS };
  for (const key of Object.keys(DEFAULT_LOAD_LIMITS) as (keyof LoadLimits)[]) {
    const value = options[key];
    if (value === undefined) continue;
    expectInteger(value, key, 1, Number.MAX_SAFE_INTEGER);
    limits[key] = value;
  }
  return limits;
}
