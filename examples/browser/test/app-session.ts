// What both Chromium test files do around their tests: serve the app, launch Chromium,
// and at the end write the figures they measured (with the machine they were measured on).
import { mkdirSync, writeFileSync } from "node:fs";
import { loadavg } from "node:os";
import { join } from "node:path";
import type { BrowserContext } from "playwright-core";
import { launchChromium } from "./chromium.js";
import { describeMachine } from "./machine.js";
import { APP_DIR, builtApp, bundleSizes, serve } from "./serve.js";

/** Where screenshots go: a test run must not rewrite the committed ones, which change only when asked for. */
export const SCREENSHOTS = join(APP_DIR, process.env.CONCORD_UPDATE_SCREENSHOTS === "1" ? "screenshots" : "test-output/screenshots");

export interface AppSession {
  readonly context: BrowserContext;
  readonly url: string;
  /** Closes Chromium and the server, and writes `results` (with the load average at the end) to test-output/<resultsFile>. */
  close(): Promise<void>;
}

/** Serves the app (built once by the global setup) and launches Chromium; records the machine and bundle sizes in `results`. */
export async function openAppSession(results: Record<string, unknown>, resultsFile: string): Promise<AppSession> {
  results.machine = describeMachine();
  mkdirSync(SCREENSHOTS, { recursive: true });
  const dist = builtApp();
  results.bundle = await bundleSizes(dist);
  const server = await serve(dist);
  const context = await launchChromium();
  return {
    context,
    url: server.url,
    async close() {
      await context.close();
      await server.close();
      results.loadAverageAtEnd = loadavg();
      mkdirSync(join(APP_DIR, "test-output"), { recursive: true });
      writeFileSync(join(APP_DIR, "test-output", resultsFile), `${JSON.stringify(results, null, 2)}\n`);
    },
  };
}
