import { ConcordError } from "@concord/core";
import { MODEL_JSON } from "./format.js";
import { DEFAULT_LOAD_LIMITS } from "./limits.js";
import { JSON_LIMIT, type MetaModelReader, SHARD_LIMIT, tooLarge } from "./reader.js";

export interface UrlReaderOptions {
  /** Time limit per file (the request and its whole body), in ms. Default 60 000. */
  readonly timeoutMs?: number;
  /** Aborts every request of the load. */
  readonly signal?: AbortSignal;
}

/**
 * model.json at `url` (or `url`/model.json when it does not end in .json); shards resolved against it
 * as tf.io.http resolves them, but only on model.json's own origin: an absolute URL to another
 * origin, a protocol-relative URL ("//host/…") or any other scheme is refused. Each file is fetched
 * with an AbortController: a ConcordError naming the URL when it takes longer than `timeoutMs`, when
 * the caller's `signal` aborts, or when it holds more bytes than allowed (checked on Content-Length
 * before the body is read, then while the body streams in).
 */
export function urlReader(url: string | URL, options: UrlReaderOptions = {}): MetaModelReader {
  const text = String(url);
  const jsonUrl = /\.json([?#].*)?$/.test(text) ? text : `${text.replace(/\/?$/, "/")}${MODEL_JSON}`;
  // In a page a relative URL is relative to the page; in Node it must be absolute.
  const page = (globalThis as { location?: { href: string } }).location;
  const base = page ? new URL(jsonUrl, page.href).href : jsonUrl;
  const timeoutMs = options.timeoutMs ?? DEFAULT_LOAD_LIMITS.timeoutMs;

  const locateShard = (path: string): string => {
    if (/^[\\/]{2}/.test(path)) throw new ConcordError("expected a path relative to model.json or a URL on its own origin, got a protocol-relative URL");
    let resolved: URL;
    let home: URL;
    try {
      home = new URL(base);
      resolved = new URL(path, home);
    } catch (error) {
      throw new ConcordError(`expected a path relative to model.json, got one that does not resolve against ${base}`, { cause: error });
    }
    if (resolved.protocol !== home.protocol || resolved.host !== home.host) {
      throw new ConcordError(`expected a shard on the same origin as model.json (${home.protocol}//${home.host}), got ${resolved.protocol}//${resolved.host}`);
    }
    resolved.hash = "";
    return resolved.href;
  };

  return {
    label: jsonUrl,
    readText: async (maxBytes) => new TextDecoder().decode(await fetchBounded(base, maxBytes, JSON_LIMIT, timeoutMs, options.signal)),
    locateShard,
    readShard: async (path, maxBytes) => {
      let target: string;
      try {
        target = locateShard(path);
      } catch (error) {
        throw new ConcordError((error as Error).message, { field: path, cause: error });
      }
      return fetchBounded(target, maxBytes, SHARD_LIMIT, timeoutMs, options.signal);
    },
  };
}

/** GET `target` within `timeoutMs`, refusing more than `maxBytes` bytes; every failure a ConcordError naming `target`. */
async function fetchBounded(target: string, maxBytes: number, why: string, timeoutMs: number, signal: AbortSignal | undefined): Promise<Uint8Array> {
  const fail = (message: string, cause?: unknown) => new ConcordError(message, { field: target, cause });
  if (signal?.aborted) throw fail("aborted by the caller's signal");
  const controller = new AbortController();
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    controller.abort();
  }, timeoutMs);
  const forward = () => controller.abort();
  signal?.addEventListener("abort", forward, { once: true });
  try {
    const response = await fetch(target, { signal: controller.signal });
    if (!response.ok) throw fail(`cannot fetch (HTTP ${response.status} ${response.statusText})`);
    const announced = response.headers.get("content-length");
    if (announced !== null && Number(announced) > maxBytes) throw fail(tooLarge(maxBytes, why, `the server announces ${announced}`));
    return await readBody(response, maxBytes, () => fail(tooLarge(maxBytes, why, "got more")));
  } catch (error) {
    if (error instanceof ConcordError) throw error;
    if (timedOut) throw fail(`timed out after ${timeoutMs} ms (timeoutMs)`, error);
    if (signal?.aborted) throw fail("aborted by the caller's signal", error);
    throw fail(`cannot fetch (${(error as Error)?.message ?? String(error)})`, error);
  } finally {
    clearTimeout(timer);
    signal?.removeEventListener("abort", forward);
    // Releases the connection of a refused body; a no-op once the body was read.
    controller.abort();
  }
}

/** The body, chunk by chunk, stopping as soon as it passes `maxBytes`. */
async function readBody(response: Response, maxBytes: number, overflow: () => ConcordError): Promise<Uint8Array> {
  if (!response.body) {
    const bytes = new Uint8Array(await response.arrayBuffer());
    if (bytes.byteLength > maxBytes) throw overflow();
    return bytes;
  }
  const reader = response.body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > maxBytes) {
      await reader.cancel().catch(() => {});
      throw overflow();
    }
    chunks.push(value);
  }
  const bytes = new Uint8Array(total);
  let offset = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return bytes;
}
