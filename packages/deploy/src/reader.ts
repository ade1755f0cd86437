/**
 * Where an export's files come from: model.json and its shards by the paths the manifest gives.
 * The paths come from an untrusted file, so a reader confines them (same origin, inside the export
 * folder) and never returns more bytes than it is allowed.
 */
export interface MetaModelReader {
  /** Names the model.json file in error messages (a URL, a path or a file name). */
  readonly label: string;
  /** model.json's text; a ConcordError naming the file when it holds more than `maxBytes` bytes. */
  readText(maxBytes: number): Promise<string>;
  /**
   * Where the manifest's shard `path` points (a URL, a file path, a file name): two paths naming one
   * shard give the same string. A ConcordError (without a field; the loader names the manifest
   * entry) when the reader refuses the path. The loader locates every path before reading any shard;
   * without this method paths are compared as written.
   */
  locateShard?(path: string): string;
  /** The bytes of shard `path`; a ConcordError naming the shard when it holds more than `maxBytes`. */
  readShard(path: string, maxBytes: number): Promise<Uint8Array>;
}

/** The message when a file is larger than allowed; `why` says what sets the limit. */
export function tooLarge(maxBytes: number, why: string, actual: string): string {
  return `expected at most ${maxBytes} bytes (${why}), ${actual}`;
}

/** What bounds a shard's size. */
export const SHARD_LIMIT = "what the manifest implies";
/** What bounds model.json's size. */
export const JSON_LIMIT = "maxModelJsonBytes";
