import { ConcordError } from "@concord/core";
import type { ConnectionOptions } from "bullmq";
import { Redis, type RedisOptions } from "ioredis";

/** A Redis server to reach: client options parsed from a redis:// or rediss:// URL, and a printable form without the password. */
export interface RedisTarget {
  readonly options: RedisOptions;
  /** The URL with any password replaced by `***`, for messages and logs. */
  readonly display: string;
}

/**
 * Parses `redis://[user][:password]@host[:port][/db]` or `rediss://…` (TLS, server name checked
 * against host). The user name and password are URL-decoded and handed to ioredis as they are.
 */
export function parseRedisUrl(text: string, field = "--queue"): RedisTarget {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    // Never echo the text: a password with a character URLs reserve (# ? / @) is why it did not parse.
    throw new ConcordError(
      `expected a Redis URL like redis://:PASSWORD@host:6379, got one that does not parse (${redactUrlText(text)}); percent-encode # ? / @ : in the password (# is %23)`,
      { field },
    );
  }
  if (url.protocol !== "redis:" && url.protocol !== "rediss:") {
    throw new ConcordError(`expected a redis:// or rediss:// URL, got ${JSON.stringify(url.protocol)}`, { field });
  }
  if (!url.hostname) throw new ConcordError("expected a host name in the Redis URL", { field });
  const port = url.port === "" ? 6379 : Number(url.port);
  const dbText = url.pathname.replace(/^\//, "");
  const db = dbText === "" ? 0 : Number(dbText);
  if (!Number.isSafeInteger(db) || db < 0) throw new ConcordError(`expected a database number after the host, got ${JSON.stringify(dbText)}`, { field });
  const host = url.hostname.replace(/^\[(.*)\]$/, "$1");
  const options: RedisOptions = {
    host,
    port,
    db,
    ...(url.username ? { username: decodeURIComponent(url.username) } : {}),
    ...(url.password ? { password: decodeURIComponent(url.password) } : {}),
    ...(url.protocol === "rediss:" ? { tls: { servername: host } } : {}),
    // BullMQ's blocking commands need this (a worker waits for jobs indefinitely).
    maxRetriesPerRequest: null,
  };
  const shown = new URL(url.href);
  if (shown.password) shown.password = "***";
  return { options, display: shown.href };
}

/**
 * A URL's text with everything that may be a user name or password replaced by ***: from after
 * `scheme://` to the last `@`, or, with no `@`, everything after the scheme (it cannot be told apart).
 */
export function redactUrlText(text: string): string {
  const scheme = /^[A-Za-z][A-Za-z0-9+.-]*:\/\//.exec(text)?.[0] ?? "";
  const rest = text.slice(scheme.length);
  const at = rest.lastIndexOf("@");
  return at >= 0 ? `${scheme}***${rest.slice(at)}` : `${scheme}***`;
}

/**
 * Connects once and sends PING, so that a wrong address or a missing/wrong password is one clear
 * ConcordError instead of BullMQ retrying forever.
 */
export async function checkRedis(target: RedisTarget, field = "--queue"): Promise<void> {
  const client = new Redis({
    ...target.options,
    lazyConnect: true,
    enableReadyCheck: false,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
    connectTimeout: 5000,
  });
  // A refused AUTH during the handshake arrives as an "error" event; the promise only says "closed".
  let reported: Error | undefined;
  client.on("error", (error: Error) => {
    reported = error;
  });
  try {
    await client.connect();
    await client.ping();
  } catch (error) {
    const message = reported?.message ?? (error as Error).message ?? String(error);
    const hint = /NOAUTH|WRONGPASS|AUTH/i.test(message)
      ? "; give the password in the URL (redis://:PASSWORD@host:port, or redis://USER:PASSWORD@… with ACL users)"
      : "; is redis-server running there and reachable?";
    throw new ConcordError(`Redis at ${target.display} refused the connection: ${message}${hint}`, { field });
  } finally {
    client.disconnect();
  }
}

/** The parsed options in the form BullMQ takes (its own RedisOptions type; the same ioredis fields). */
export function bullConnection(target: RedisTarget): ConnectionOptions {
  return target.options as unknown as ConnectionOptions;
}
