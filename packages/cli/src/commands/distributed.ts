// The CLI's link to @concord/distributed: its API, loaded when a command is given --queue (or is
// `concord worker`), so that local runs never load BullMQ and the Redis client.
import { readFileSync } from "node:fs";
import { ConcordError } from "@concord/core";
import { Option } from "commander";
import { resolvePath } from "./arguments.js";

/** @concord/distributed, imported on first use. */
export function loadDistributed(): Promise<typeof import("@concord/distributed")> {
  return import("@concord/distributed");
}

/** The environment variable a bare `--queue` reads the Redis URL from (never shown by `ps`). */
export const QUEUE_URL_ENV = "CONCORD_REDIS_URL";

/** `--queue [url]`: `what` happens through this Redis; bare, the URL comes from $CONCORD_REDIS_URL. */
export function queueOption(what: string): Option {
  return new Option(
    "--queue [url]",
    `${what} through this Redis: redis://:PASSWORD@host:6379 (rediss:// for TLS); bare --queue reads the URL from $${QUEUE_URL_ENV}, which keeps the password out of \`ps\``,
  );
}

/** `--allow-eviction`: accept a Redis whose maxmemory-policy is not noeviction, with a warning. */
export function allowEvictionOption(): Option {
  return new Option(
    "--allow-eviction",
    "with --queue: run even when Redis's maxmemory-policy may evict keys (anything but noeviction), with a warning; evicted data stalls and resubmits work",
  );
}

/** `--queue-file <file>`: like --queue, the URL read from a file. */
export function queueFileOption(): Option {
  return new Option("--queue-file <file>", "like --queue, the URL read from this file (its first line; keep it readable by you only)");
}

/**
 * The Redis URL from `--queue <url>`, a bare `--queue` ($CONCORD_REDIS_URL) or `--queue-file`, or
 * undefined when none is given. A password typed on the command line works but is visible to every
 * user through `ps`: `warn` is told so (without the password).
 */
export function queueUrl(
  options: { queue?: string | boolean; queueFile?: string },
  cwd: string,
  env: Readonly<Record<string, string | undefined>> = process.env,
  warn: (line: string) => void = () => {},
): string | undefined {
  if (options.queue !== undefined && options.queueFile !== undefined)
    throw new ConcordError("give the Redis URL once: --queue or --queue-file", { field: "--queue-file" });
  if (options.queueFile !== undefined) {
    const path = resolvePath(cwd, options.queueFile);
    let text: string;
    try {
      text = readFileSync(path, "utf8");
    } catch (error) {
      throw new ConcordError(`cannot read the Redis URL file (${(error as NodeJS.ErrnoException).code ?? String(error)})`, {
        field: "--queue-file",
        cause: error,
      });
    }
    const url = text.split(/\r?\n/)[0]!.trim();
    if (url === "") throw new ConcordError(`expected a Redis URL on the first line of ${path}, got an empty line`, { field: "--queue-file" });
    return url;
  }
  if (options.queue === true) {
    const url = env[QUEUE_URL_ENV]?.trim();
    if (!url) throw new ConcordError(`a bare --queue reads the Redis URL from $${QUEUE_URL_ENV}, which is not set`, { field: "--queue" });
    return url;
  }
  if (typeof options.queue === "string") {
    // Anything before an @ after the scheme may hold a password.
    if (/^rediss?:\/\/.*@/.test(options.queue)) {
      warn(
        `warning: --queue: a password on the command line is visible to every user of this machine (ps); use $${QUEUE_URL_ENV} with a bare --queue, or --queue-file`,
      );
    }
    return options.queue;
  }
  return undefined;
}
