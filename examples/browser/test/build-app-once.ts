// Vitest global setup: build the app once for every test file that serves it (both Chromium files
// used to build it each, doubling the build time of a test run).
import { buildApp } from "./serve.js";

export default async function buildAppOnce(): Promise<void> {
  await buildApp();
}
