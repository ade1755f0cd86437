/**
 * Finds Debian's `chromium` for the browser tests (never downloads a browser). In CI (CI=true) a missing
 * browser is an error; elsewhere the tests are skipped with a message saying how to install it.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type BrowserContext, chromium } from "playwright-core";

export const INSTALL_HINT = "apt-get install -y chromium (Debian's package; as root)";

/** Flags that work on this kind of machine (closed network, root, no GPU). */
const FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"];

export function findChromium(): string | undefined {
  const fromEnv = process.env.CONCORD_CHROMIUM;
  if (fromEnv) return fromEnv;
  try {
    return execFileSync("sh", ["-c", "command -v chromium"], { encoding: "utf8" }).trim() || undefined;
  } catch {
    return undefined;
  }
}

/** Why the browser tests cannot run here, or undefined when they can. Throws in CI. */
export function browserUnavailable(): string | undefined {
  if (findChromium()) return undefined;
  const message = `browser tests need Chromium, and no \`chromium\` is on PATH: ${INSTALL_HINT}`;
  if (process.env.CI === "true") throw new Error(`CI=true: ${message}`);
  console.warn(`\n[concord browser tests] SKIPPED: ${message}\n`);
  return message;
}

/** Headless Chromium with a fresh profile folder. */
export async function launchChromium(): Promise<BrowserContext> {
  const executablePath = findChromium();
  if (!executablePath) throw new Error(`no chromium: ${INSTALL_HINT}`);
  const profile = mkdtempSync(join(tmpdir(), "concord-chromium-"));
  return chromium.launchPersistentContext(profile, { executablePath, headless: true, args: ["--headless", ...FLAGS], viewport: { width: 1180, height: 900 } });
}
