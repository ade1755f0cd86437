/** Entry points for the browser tests (loaded on demand; the app itself never calls them). */
import * as tf from "@tensorflow/tfjs-core";
import { referenceMetaGradient } from "./meta-train/meta-gradient.js";
import { type BrowserBackend, useBrowserBackend } from "./setup-backend.js";

/** The reference meta-gradient on `backend`, and the milliseconds of one more run (after warm-up). */
export async function metaGradientOn(backend: BrowserBackend): Promise<{ backend: string; gradient: Record<string, number[]>; ms: number }> {
  await useBrowserBackend(backend);
  const gradient = referenceMetaGradient();
  const runs: number[] = [];
  for (let i = 0; i < 5; i++) {
    const begin = performance.now();
    referenceMetaGradient();
    runs.push(performance.now() - begin);
  }
  runs.sort((a, b) => a - b);
  return { backend: tf.getBackend(), gradient, ms: runs[2]! };
}
